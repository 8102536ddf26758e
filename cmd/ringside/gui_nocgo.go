//go:build !cgo

package main

import "context"

// startDesktop reports that this build has no desktop UI: Fyne's GLFW
// driver needs cgo. The caller runs headless instead.
func startDesktop(context.Context, *coreHost, desktopParams) (bool, error) {
	return false, nil
}
