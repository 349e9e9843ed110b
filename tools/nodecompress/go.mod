module github.com/proompteng/orch/tools/nodecompress

go 1.26.0

require (
	github.com/andybalholm/brotli v1.2.2
	github.com/klauspost/compress v1.19.1
	github.com/klauspost/pgzip v1.2.6
)
