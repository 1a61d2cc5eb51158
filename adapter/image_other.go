//go:build !linux

package adapter

import "errors"

const imagesSupported = false

type imageFile struct{}

func newImageFile([]byte) (imageFile, error) { return imageFile{}, errors.New("no memfd") }

func (imageFile) close() {}

func mapImage(*linearMemory, imageFile, uint64) error { return errors.New("no memfd") }
