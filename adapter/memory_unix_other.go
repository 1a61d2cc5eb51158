//go:build unix && !linux

package adapter

const mapNoReserve = 0
