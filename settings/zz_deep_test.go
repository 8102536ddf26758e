package settings

import (
	"strings"
	"testing"
	"time"
)

func TestZZDeep(t *testing.T) {
	for _, n := range []int{1000, 4000, 16000} {
		for i, s := range []string{
			"a = " + strings.Repeat("[", n),
			"a = " + strings.Repeat("{b=", n),
			"[connectors.x]\ntype='t'\nv = " + strings.Repeat("[", n) + strings.Repeat("]", n),
		} {
			start := time.Now()
			_, err := parse("/x.toml", []byte(s))
			t.Logf("n=%d case %d: %v %.80v", n, i, time.Since(start), err)
		}
	}
}
