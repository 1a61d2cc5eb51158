// Package lambdaspec holds what AWS Lambda defines and several ferry
// packages share: limits and defaults, the function-name pattern, the
// allowed-outbound-host patterns, and the request-id (GUID) shape. It is a
// leaf: it imports nothing of ferry's and no runtime (no wazero), so the
// engine (adapter), the config loader (internal/config), the gateway and
// the Kubernetes generator (internal/k8s) state each of these once.
package lambdaspec
