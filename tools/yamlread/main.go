// yamlread reads a multi-document YAML stream exactly as kubectl and argo do
// (k8s.io/apimachinery's document splitter, then sigs.k8s.io/yaml, which is
// go-yaml underneath) and writes each document as one line of JSON. The tests
// feed it orch's output to prove that every string a user wrote reaches the
// Go side unchanged: YAML 1.1 booleans such as `y`, control characters and
// Unicode line breaks are exactly where Python's and Go's readers differ.
//
// Exit 1 with the reader's error on stderr when a document does not parse.
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

func main() {
	reader := utilyaml.NewYAMLReader(bufio.NewReaderSize(os.Stdin, 1<<20))
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for i := 0; ; i++ {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			fail(i, err)
		}
		if strings.TrimSpace(string(doc)) == "" {
			continue
		}
		js, err := yaml.YAMLToJSON(doc)
		if err != nil {
			fail(i, err)
		}
		out.Write(js)
		out.WriteString("\n")
	}
}

func fail(i int, err error) {
	fmt.Fprintf(os.Stderr, "document %d: %v\n", i, err)
	os.Exit(1)
}
