//go:build ferry_test_tag

package main

func init() { tagged = "built with ferry_test_tag" }
