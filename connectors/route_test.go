package connectors

import "testing"

func TestCallbackIsZero(t *testing.T) {
	for _, tt := range []struct {
		cb   Callback
		zero bool
	}{
		{Callback{}, true},
		{Callback{Events: []Event{}}, true},
		{Callback{Events: []Event{{Kind: KindRinging}}}, false},
		{Callback{Status: StatusBusy}, false},
		{Callback{Dial: Phone{Raw: "101"}}, false},
	} {
		if got := tt.cb.IsZero(); got != tt.zero {
			t.Errorf("%+v.IsZero() = %v, want %v", tt.cb, got, tt.zero)
		}
	}
}

func TestRouteAuth(t *testing.T) {
	if a := TokenAuth(); a.Kind != AuthToken || a.Kind.String() != "token" {
		t.Errorf("TokenAuth = %+v", a)
	}
	a := ParamAuth("clientId", func() string { return "s" })
	if a.Kind != AuthParam || a.Param != "clientId" || a.Secret() != "s" || a.Kind.String() != "param" {
		t.Errorf("ParamAuth = %+v", a)
	}
	if got := AuthKind(9).String(); got != "auth?" {
		t.Errorf("unknown kind = %q", got)
	}
}
