//go:build windows || darwin

package settings

// sessionBusReachable is always true where the keyring is not on D-Bus.
func sessionBusReachable() error { return nil }
