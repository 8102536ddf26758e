//go:build !linux

package notify

import (
	"context"
	"fmt"

	"github.com/gen2brain/beeep"
)

// setAppName stores the name where beeep reads it (see NewDesktop).
func setAppName(name string) {
	beeep.AppName = name
}

// Notify shows a notification through beeep. beeep offers no way to abandon a
// notification in flight, so ctx is checked before sending and Notify then
// waits for beeep to return (it starts no goroutine of its own).
func (d *Desktop) Notify(ctx context.Context, title, body string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("notify: send notification: %w", err)
	}
	if err := beeep.Notify(title, body, d.iconPath); err != nil {
		return fmt.Errorf("notify: send notification: %w", err)
	}
	return nil
}

// Available returns nil: Windows and macOS always have a notification centre.
func Available(ctx context.Context) error {
	return nil
}
