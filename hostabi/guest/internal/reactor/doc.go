// Package reactor is the WebAssembly side of ferry's reactor mode (see
// hostabi/ABI.md), shared by the Go guest SDKs: it exports
// ferry_abi_version, ferry_start and ferry_invoke, runs the program's main
// from ferry_start, and hands each invocation record to the handler an SDK
// registered while main ran.
//
// Everything but this comment is built for GOOS=wasip1 only.
package reactor
