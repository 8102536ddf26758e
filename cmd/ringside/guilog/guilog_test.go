package guilog

import "testing"

func TestCLocale(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want bool
	}{
		{map[string]string{}, false},
		{map[string]string{"LANG": "C.UTF-8"}, true},
		{map[string]string{"LANG": "POSIX"}, true},
		{map[string]string{"LANG": "ro_RO.UTF-8"}, false},
		{map[string]string{"LC_ALL": "en_US.UTF-8", "LANG": "C"}, false},
		{map[string]string{"LC_MESSAGES": "C", "LANG": "en_US.UTF-8"}, true},
	}
	for _, tt := range tests {
		if got := cLocale(func(k string) string { return tt.env[k] }); got != tt.want {
			t.Errorf("cLocale(%v) = %v, want %v", tt.env, got, tt.want)
		}
	}
}
