package retailcrm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ringside/ringside/connectors"
)

// uploadCall is one element of calls= of POST /api/v5/telephony/calls/upload.
type uploadCall struct {
	Date            string `json:"date"` // YYYY-MM-DD HH:MM:SS, in the configured time zone
	Type            string `json:"type"` // in, out
	Phone           string `json:"phone"`
	Code            string `json:"code,omitempty"`
	UserID          int64  `json:"userId,omitempty"`
	Result          string `json:"result"`
	Duration        int64  `json:"duration"`        // seconds talked
	DurationWaiting int64  `json:"durationWaiting"` // seconds before the answer (or the end)
	ExternalID      string `json:"externalId"`
	RecordURL       string `json:"recordUrl,omitempty"`
	ExternalPhone   string `json:"externalPhone,omitempty"`
	Site            string `json:"site,omitempty"`
}

// uploadAnswer is what an upload answers besides success.
type uploadAnswer struct {
	ProcessedCallsCount flexInt  `json:"processedCallsCount"`
	DuplicateCalls      flexList `json:"duplicateCalls"`
}

// dateLayout is retailCRM's date and time.
const dateLayout = "2006-01-02 15:04:05"

// uploadResult is a result in the spelling of the history upload
// (answered, busy, failed, "no answer", "not allowed", unknown). A missed
// or cancelled call was not answered.
func uploadResult(r connectors.Result) string {
	switch r {
	case connectors.ResultAnswered:
		return "answered"
	case connectors.ResultBusy:
		return "busy"
	case connectors.ResultFailed:
		return "failed"
	case connectors.ResultMissed, connectors.ResultNoAnswer, connectors.ResultCancelled:
		return "no answer"
	}
	return "unknown"
}

// seconds rounds a duration to whole seconds, never below 0.
func seconds(d time.Duration) int64 {
	return max(int64(math.Round(d.Seconds())), 0)
}

// uploadOf is a call log as retailCRM's history takes it; an error says
// why the log cannot be sent at all.
func (c *CRM) uploadOf(l connectors.CallLog) (uploadCall, error) {
	phone := phoneOf(l.Phone)
	if phone == "" {
		return uploadCall{}, errors.New("the call has no number, and retailCRM's history needs one")
	}
	at := l.StartedAt
	if at.IsZero() {
		at = l.EndedAt
	}
	if at.IsZero() {
		return uploadCall{}, errors.New("the call has no start time")
	}
	typ := "in"
	if l.Direction == connectors.DirectionOutbound {
		typ = "out"
	}
	code, userID := c.agent(l.Agent)
	u := uploadCall{
		Date:            at.In(c.loc).Format(dateLayout),
		Type:            typ,
		Phone:           phone,
		Code:            code,
		UserID:          userID,
		Result:          uploadResult(l.Result),
		Duration:        seconds(l.Talk),
		DurationWaiting: seconds(l.Waiting),
		ExternalID:      l.Key,
		ExternalPhone:   c.externalPhone(l.Extra),
		Site:            c.site,
	}
	if strings.HasPrefix(l.Recording, "https://") || strings.HasPrefix(l.Recording, "http://") {
		u.RecordURL = l.Recording
	}
	return u, nil
}

// LogCalls uploads finished calls to retailCRM's call history: POST
// /api/v5/telephony/calls/upload with calls= a JSON array of at most 50.
// Each call's externalId is its log Key, so retailCRM recognises a call
// sent twice and lists it in duplicateCalls: a duplicate counts as
// delivered.
//
// Only a call's first revision is uploaded: the history has no place for
// the note or disposition a later revision carries, and a new externalId
// would make it a second call. Later revisions count as delivered unsent.
//
// A log that cannot be uploaded at all (no number) is refused for good
// alone. When retailCRM refuses a batch and names the calls at fault
// (errors keyed calls[N]…), those are refused for good and the others
// retried in a second; otherwise the batch's outcome is the answer's:
// 429, 503, 5xx and network errors are retried (no sooner than
// Retry-After), 400, 401, 403, 404, success false and an HTML page are
// permanent.
//
// With upload = "periodic", FlushInterval asks the outbox to gather what
// ends within upload_interval into one request.
func (c *CRM) LogCalls(ctx context.Context, logs []connectors.CallLog) error {
	if len(logs) <= MaxBatch {
		return c.upload(ctx, logs)
	}
	errs := make([]error, len(logs))
	failed := false
	for i := 0; i < len(logs); i += MaxBatch {
		j := min(i+MaxBatch, len(logs))
		err := c.upload(ctx, logs[i:j])
		var be *connectors.BatchError
		switch {
		case errors.As(err, &be) && len(be.Errs) == j-i:
			copy(errs[i:j], be.Errs)
			failed = true
		case err != nil:
			for k := i; k < j; k++ {
				errs[k] = err
			}
			failed = true
		}
	}
	if !failed {
		return nil
	}
	return &connectors.BatchError{Errs: errs}
}

// upload sends at most one batch.
func (c *CRM) upload(ctx context.Context, logs []connectors.CallLog) error {
	errs := make([]error, len(logs))
	var calls []uploadCall
	var sent []int // index in logs of each call
	for i, l := range logs {
		if l.Revision > 1 {
			continue
		}
		u, err := c.uploadOf(l)
		if err != nil {
			errs[i] = connectors.Permanent(fmt.Errorf("retailcrm: upload call %s: %w", l.Key, err))
			continue
		}
		calls = append(calls, u)
		sent = append(sent, i)
	}
	if len(calls) > 0 {
		if err := c.send(ctx, calls); err != nil {
			per := callErrors(err, len(calls))
			for k, i := range sent {
				errs[i] = per[k]
			}
		}
	}
	return outcome(errs)
}

// outcome is nil when every log went, the one error when all failed alike,
// else a *connectors.BatchError.
func outcome(errs []error) error {
	var first error
	same := true
	for _, err := range errs {
		switch {
		case err == nil:
			same = false
		case first == nil:
			first = err
		case err != first:
			same = false
		}
	}
	switch {
	case first == nil:
		return nil
	case same:
		return first
	}
	return &connectors.BatchError{Errs: errs}
}

// FlushInterval implements connectors.Flusher: with upload = "periodic",
// the outbox sends a partial batch at most once per upload_interval (a
// full batch of 50 goes at once); with "immediate", as soon as it can.
func (c *CRM) FlushInterval() time.Duration {
	if !c.periodic {
		return 0
	}
	return c.interval
}

// send uploads one batch of calls.
func (c *CRM) send(ctx context.Context, calls []uploadCall) error {
	body, err := json.Marshal(calls)
	if err != nil {
		return connectors.Permanent(fmt.Errorf("retailcrm: upload calls: %w", err))
	}
	b, err := c.do(ctx, request{method: http.MethodPost, path: pathUpload, form: url.Values{"calls": {string(body)}}})
	if err != nil {
		return fmt.Errorf("retailcrm: upload %d calls: %w", len(calls), err)
	}
	// Success says retailCRM has the calls; the counts only inform.
	var ans uploadAnswer
	_ = json.Unmarshal(b, &ans)
	processed, dups := int(ans.ProcessedCallsCount), len(ans.DuplicateCalls)
	if processed+dups < len(calls) && processed > 0 {
		// Success says the lot was taken; counts that do not add up are
		// worth a look, not a resend that could double calls.
		c.logger.Warn("retailcrm: upload: fewer calls processed than sent", "sent", len(calls), "processed", processed, "duplicates", dups)
	}
	c.logger.Debug("retailcrm: uploaded calls", "sent", len(calls), "processed", processed, "duplicates", dups)
	return nil
}

// callIndex finds the call an error of a refused upload names: "calls[3]…"
// or a key that is the index itself ("3", "3.phone").
var callIndex = regexp.MustCompile(`^(?:calls\[(\d+)\]|(\d+)(?:$|[.\[:]))`)

// callErrors spreads the error of an upload of n calls over them. When
// retailCRM refused the upload and its errors name calls by index, those
// calls are refused for good with their own messages and the others, which
// were not saved either, are retried in a second; otherwise every call gets
// err.
func callErrors(err error, n int) []error {
	out := make([]error, n)
	for i := range out {
		out[i] = err
	}
	var ae *APIError
	if !connectors.IsPermanent(err) || !errors.As(err, &ae) || len(ae.Errors) == 0 {
		return out
	}
	byCall := make(map[int][]string)
	for _, e := range ae.Errors {
		m := callIndex.FindStringSubmatch(e)
		if m == nil {
			return out // an error about the whole upload
		}
		i, _ := strconv.Atoi(m[1] + m[2])
		if i >= n {
			return out
		}
		byCall[i] = append(byCall[i], e)
	}
	for i := range out {
		if msgs, ok := byCall[i]; ok {
			out[i] = connectors.Permanent(fmt.Errorf("retailcrm: upload call: HTTP %d: %s: %s", ae.Status, ae.Msg, strings.Join(msgs, "; ")))
		} else {
			out[i] = connectors.RetryAfter(errors.New("retailcrm: upload call: not saved because another call of the same upload was refused; sending again"), time.Second)
		}
	}
	return out
}
