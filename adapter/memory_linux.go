package adapter

import "syscall"

const mapNoReserve = syscall.MAP_NORESERVE
