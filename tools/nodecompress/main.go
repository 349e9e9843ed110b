// nodecompress writes what Argo v4.1 writes into a Workflow's
// status.compressedNodes, and reads it back as Argo does.
//
//	nodecompress < nodes.json > compressed.b64      # encode
//	nodecompress -d < compressed.b64 > nodes.json   # decode
//
// Encoding compresses stdin with the algorithm WORKFLOW_COMPRESSION_ALGORITHM
// names (gzip, the default; zstd; brotli) at WORKFLOW_COMPRESSION_LEVEL, gzip
// through GZIP_IMPLEMENTATION (PGZip, the default, or GZip), and base64-encodes
// it. Decoding tells the algorithm by the first bytes. Both are copies of
// CompressContent, DecompressContent and compressionLevel in argo-workflows
// v4.1.0 util/file/fileutil.go (l.64-230, #16262), with the libraries at the
// versions that release pins (its go.mod): v4.1 itself is not on the Go module
// proxy (tools/README.md), and its util/file would bring Argo's whole module
// graph for forty lines. Only logging differs (stderr instead of Argo's logger).
//
// Why: orch's controller reads compressedNodes on clusters whose Argo chose any
// of the three (contract §5); its tests decode payloads this program made with
// Argo's own code and libraries, and check that what orch writes back (a
// released wait, re-compressed) is what Argo's reader accepts.
package main

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
)

const (
	gzipImplEnv  = "GZIP_IMPLEMENTATION"
	algorithmEnv = "WORKFLOW_COMPRESSION_ALGORITHM"
	levelEnv     = "WORKFLOW_COMPRESSION_LEVEL"
)

var (
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
	gzipMagic = []byte{0x1f, 0x8b}
)

func getString(key, def string) string { // k8s.io/utils/env.GetString
	if v, ok := os.LookupEnv(key); ok {
		return v
	}
	return def
}

func compressionLevel(defaultLevel, minLevel, maxLevel int) int {
	s := os.Getenv(levelEnv)
	if s == "" {
		return defaultLevel
	}
	l, err := strconv.Atoi(s)
	if err != nil || l < minLevel || l > maxLevel {
		fmt.Fprintf(os.Stderr, "invalid compression level %q, using the algorithm's default\n", s)
		return defaultLevel
	}
	return l
}

func compressContent(content []byte) ([]byte, error) {
	algorithm := getString(algorithmEnv, "gzip")
	switch algorithm {
	case "zstd":
		level := zstd.EncoderLevel(compressionLevel(int(zstd.SpeedDefault), int(zstd.SpeedFastest), int(zstd.SpeedBestCompression)))
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(level))
		if err != nil {
			return nil, err
		}
		return enc.EncodeAll(content, nil), nil
	case "brotli":
		var buf bytes.Buffer
		w := brotli.NewWriterLevel(&buf, compressionLevel(brotli.DefaultCompression, brotli.BestSpeed, brotli.BestCompression))
		if _, err := w.Write(content); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	case "gzip", "":
	default:
		fmt.Fprintf(os.Stderr, "unknown compression algorithm %q, using gzip\n", algorithm)
	}
	level := compressionLevel(gzip.DefaultCompression, gzip.BestSpeed, gzip.BestCompression)
	var buf bytes.Buffer
	var w io.WriteCloser
	var err error
	switch getString(gzipImplEnv, "PGZip") {
	case "GZip":
		w, err = gzip.NewWriterLevel(&buf, level)
	default:
		w, err = pgzip.NewWriterLevel(&buf, level)
	}
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(content); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func decompressContent(content []byte) ([]byte, error) {
	if bytes.HasPrefix(content, zstdMagic) {
		dec, err := zstd.NewReader(nil)
		if err != nil {
			return nil, err
		}
		defer dec.Close()
		return dec.DecodeAll(content, nil)
	}
	if !bytes.HasPrefix(content, gzipMagic) {
		return io.ReadAll(brotli.NewReader(bytes.NewReader(content)))
	}
	var r io.ReadCloser
	var err error
	switch getString(gzipImplEnv, "PGZip") {
	case "GZip":
		r, err = gzip.NewReader(bytes.NewReader(content))
	default:
		r, err = pgzip.NewReader(bytes.NewReader(content))
	}
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

func run(decode bool) error {
	in, err := io.ReadAll(os.Stdin)
	if err != nil {
		return err
	}
	if decode {
		raw, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(in)))
		if err != nil {
			return err
		}
		out, err := decompressContent(raw)
		if err != nil {
			return fmt.Errorf("failed to decompress: %w", err)
		}
		_, err = os.Stdout.Write(out)
		return err
	}
	out, err := compressContent(in)
	if err != nil {
		return err
	}
	_, err = io.WriteString(os.Stdout, base64.StdEncoding.EncodeToString(out))
	return err
}

func main() {
	decode := flag.Bool("d", false, "decode base64 compressed node status from stdin")
	flag.Parse()
	if err := run(*decode); err != nil && !errors.Is(err, io.EOF) {
		fmt.Fprintln(os.Stderr, "nodecompress:", err)
		os.Exit(1)
	}
}
