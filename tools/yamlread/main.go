// yamlread reads a multi-document YAML stream exactly as kubectl and argo do
// (k8s.io/apimachinery's document splitter, then sigs.k8s.io/yaml, which is
// go-yaml underneath) and writes each document as one line of JSON. The tests
// feed it orch's output to prove that every string a user wrote reaches the
// Go side unchanged: YAML 1.1 booleans such as `y`, control characters and
// Unicode line breaks are exactly where Python's and Go's readers differ.
//
// With -file it reads its input as `kubectl create -f FILE` reads a file
// (cli-runtime's StreamVisitor: apimachinery's YAMLOrJSONDecoder, which reads
// a text that starts with `{` with a JSON decoder and anything else as YAML),
// so the tests can compare what orch reads from a user's file with what
// kubectl would.
//
// Exit 1 with the reader's error on stderr when a document does not parse.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

func main() {
	asFile := flag.Bool("file", false, "read as kubectl reads a file (JSON or YAML)")
	flag.Parse()
	in := bufio.NewReaderSize(os.Stdin, 1<<20)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	if *asFile {
		readFile(in, out)
		return
	}
	reader := utilyaml.NewYAMLReader(in)
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

// readFile decodes as cli-runtime's StreamVisitor.Visit (v0.36): each document
// into raw JSON, trimmed, empty and `null` documents skipped.
func readFile(in io.Reader, out *bufio.Writer) {
	decoder := utilyaml.NewYAMLOrJSONDecoder(in, 4096)
	for i := 0; ; i++ {
		ext := runtime.RawExtension{}
		err := decoder.Decode(&ext)
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			fail(i, err)
		}
		raw := bytes.TrimSpace(ext.Raw)
		if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
			continue
		}
		var line bytes.Buffer
		if err := json.Compact(&line, raw); err != nil {
			fail(i, err)
		}
		out.Write(line.Bytes())
		out.WriteString("\n")
	}
}

func fail(i int, err error) {
	fmt.Fprintf(os.Stderr, "document %d: %v\n", i, err)
	os.Exit(1)
}
