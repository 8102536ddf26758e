package simulator

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"time"
)

// Contact is a person the demo's contacts file knows.
type Contact struct {
	Name    string
	Company string
	Manager string
	Number  string // as the contacts file writes it, e.g. "+40 21 312 4567"
}

// DemoContacts is the demo's address book: Romanian numbers, landlines and
// mobiles. The scenario calls them (sent the way the PBX sends numbers,
// national format) and numbers nobody knows. The demo writes its contacts
// file from this list, so the two always agree.
func DemoContacts() []Contact {
	return []Contact{
		{Name: "Ion Popescu", Company: "Carpatica Logistic SRL", Manager: "Ana Dumitrescu", Number: "+40 21 312 4567"},
		{Name: "Maria Ionescu", Company: "Dunărea Farm SA", Manager: "Ana Dumitrescu", Number: "+40 722 345 678"},
		{Name: "Andrei Georgescu", Company: "Transilvania Mobila SRL", Manager: "Radu Stan", Number: "+40 264 598 210"},
		{Name: "Elena Constantin", Company: "Banat Agro SRL", Manager: "Radu Stan", Number: "+40 745 112 233"},
		{Name: "Mihai Stoica", Company: "Litoral Turism SRL", Manager: "Ioana Matei", Number: "+40 241 556 789"},
		{Name: "Cristina Marin", Company: "Moldova Textil SA", Manager: "Ioana Matei", Number: "+40 232 214 365"},
		{Name: "Alexandru Dobre", Company: "Carpatica Logistic SRL", Manager: "Ana Dumitrescu", Number: "+40 768 901 234"},
		{Name: "Gabriela Tudor", Company: "Oltenia Energie SRL", Manager: "Radu Stan", Number: "+40 251 409 876"},
		{Name: "Vlad Munteanu", Company: "Bucovina Lemn SRL", Manager: "Ioana Matei", Number: "+40 730 654 321"},
		{Name: "Ioana Petrescu", Company: "Delta Pescuit SRL", Manager: "Ana Dumitrescu", Number: "+40 21 665 1020"},
	}
}

// demoUnknown are numbers no demo contact has.
func demoUnknown() []string {
	return []string{
		"0213456789", "0756789012", "0740222333", "0268415926", "0799123456", "0314052000",
	}
}

// Scenario shapes RunScenario. Zero values take the defaults.
type Scenario struct {
	Seed     uint64        // random source; 0: a different run each time
	MinGap   time.Duration // between the end of a call and the next (default 8s)
	MaxGap   time.Duration // (default 20s)
	Speed    float64       // ring and talk times are divided by it (default 10: a 3-minute call lasts 18 s)
	Known    []string      // numbers the contacts know, as the PBX sends them (default: DemoContacts, national format)
	Unknown  []string      // numbers nobody knows (nil: a built-in list; empty: none)
	UserID   string        // userId of the notifications (default "321")
	UserType string        // userType of the notifications (default "agent")
}

// callKind is one kind of scenario call.
type callKind uint8

const (
	directIn callKind = iota // someone dials the agent's phone
	queueIn                  // a call-center queue routes a call to the agent
	outgoing                 // the agent dials
	missedIn                 // rings, nobody answers
)

// RunScenario places calls to the agent idCrm until ctx is done, one at a
// time: incoming direct calls, incoming queue calls (callCenter yes),
// outgoing calls, known and unknown numbers, and missed calls. Each call is
// pushed on the agent's connection (waiting for the agent to be connected),
// then, when notifyURL is not empty, followed by the call notifications a
// webhook gets: answer after the ring time, then hangup or confirmHangup
// after the talk time (a missed call gets only hangup). Ring and talk times
// are realistic, divided by sc.Speed. It runs in the caller's goroutine.
func (s *Server) RunScenario(ctx context.Context, idCrm string, sc Scenario, notifyURL string) {
	sc = sc.withDefaults()
	seed := sc.Seed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	seq := 0
	base := time.Now().Unix()
	for {
		gap := sc.MinGap
		if sc.MaxGap > sc.MinGap {
			gap += time.Duration(rng.Int64N(int64(sc.MaxGap - sc.MinGap)))
		}
		if !sleep(ctx, gap) {
			return
		}
		if err := s.WaitConnected(ctx, idCrm); err != nil {
			return
		}
		seq++
		c := sc.next(rng, fmt.Sprintf("%d.%d", base+int64(seq), 1000+seq))
		s.place(ctx, idCrm, c, sc, notifyURL)
	}
}

// scenarioCall is one call of the scenario.
type scenarioCall struct {
	kind   callKind
	number string
	id     string
	ring   time.Duration
	talk   time.Duration
	hangup string // "hangup" or "confirmHangup"
}

func (sc Scenario) next(rng *rand.Rand, id string) scenarioCall {
	c := scenarioCall{id: id, hangup: "hangup"}
	switch p := rng.IntN(100); {
	case p < 35:
		c.kind = directIn
	case p < 65:
		c.kind = queueIn
	case p < 85:
		c.kind = outgoing
	default:
		c.kind = missedIn
	}
	if rng.IntN(100) < 70 || len(sc.Unknown) == 0 {
		c.number = sc.Known[rng.IntN(len(sc.Known))]
	} else {
		c.number = sc.Unknown[rng.IntN(len(sc.Unknown))]
	}
	// Ringing 3–15 s (missed: 20–40 s); talk mostly 20 s–4 min, sometimes
	// up to 12 min.
	c.ring = time.Duration(3+rng.IntN(13)) * time.Second
	if c.kind == missedIn {
		c.ring = time.Duration(20+rng.IntN(21)) * time.Second
	}
	c.talk = time.Duration(20+rng.IntN(220)) * time.Second
	if rng.IntN(10) == 0 {
		c.talk = time.Duration(240+rng.IntN(480)) * time.Second
	}
	if rng.IntN(4) == 0 {
		c.hangup = "confirmHangup"
	}
	c.ring = scale(c.ring, sc.Speed)
	c.talk = scale(c.talk, sc.Speed)
	return c
}

// place plays one call.
func (s *Server) place(ctx context.Context, id string, c scenarioCall, sc Scenario, notifyURL string) {
	var err error
	direction := "in"
	switch c.kind {
	case directIn, missedIn:
		err = s.Incoming(id, c.number, c.id, false)
	case queueIn:
		err = s.Incoming(id, c.number, c.id, true)
	case outgoing:
		direction = "out"
		err = s.Outgoing(id, c.number, c.id, false)
	}
	if err != nil {
		s.log.Warn("scenario: call not placed", "error", err)
		return
	}
	notify := func(event string) {
		if notifyURL == "" {
			return
		}
		form := url.Values{
			"apiName":     {"callNotification"},
			"event":       {event},
			"callId":      {c.id},
			"userId":      {sc.UserID},
			"userType":    {sc.UserType},
			"direction":   {direction},
			"phoneNumber": {c.number},
		}
		if err := s.Notify(ctx, notifyURL, form); err != nil && ctx.Err() == nil {
			s.log.Warn("scenario: notification failed", "event", event, "error", err)
		}
	}
	if !sleep(ctx, c.ring) {
		return
	}
	if c.kind == missedIn {
		notify("hangup")
		return
	}
	notify("answer")
	if !sleep(ctx, c.talk) {
		return
	}
	notify(c.hangup)
}

func (sc Scenario) withDefaults() Scenario {
	if sc.MinGap <= 0 {
		sc.MinGap = 8 * time.Second
	}
	if sc.MaxGap <= 0 {
		sc.MaxGap = max(20*time.Second, sc.MinGap)
	}
	if sc.MaxGap < sc.MinGap {
		sc.MaxGap = sc.MinGap
	}
	if sc.Speed <= 0 {
		sc.Speed = 10
	}
	if len(sc.Known) == 0 {
		for _, c := range DemoContacts() {
			sc.Known = append(sc.Known, National(c.Number))
		}
	}
	if sc.Unknown == nil {
		sc.Unknown = demoUnknown()
	}
	if sc.UserID == "" {
		sc.UserID = "321"
	}
	if sc.UserType == "" {
		sc.UserType = "agent"
	}
	return sc
}

// National writes a Romanian number the way the PBX sends it: "+40 21 312
// 4567" becomes "0213124567". Other numbers lose only their spaces.
func National(number string) string {
	n := strings.NewReplacer(" ", "", "-", "", ".", "").Replace(number)
	if rest, ok := strings.CutPrefix(n, "+40"); ok {
		return "0" + rest
	}
	return n
}

func scale(d time.Duration, speed float64) time.Duration {
	return max(time.Duration(float64(d)/speed), time.Millisecond)
}

// sleep waits d, reporting false if ctx is done first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
