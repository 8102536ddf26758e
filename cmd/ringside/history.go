package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/ringside/ringside/app"
	"github.com/ringside/ringside/app/journal"
	"github.com/ringside/ringside/settings"
)

func (e *env) history(ctx context.Context, args []string) error {
	fs := e.flags("history")
	asJSON := fs.Bool("json", false, "print JSON")
	number := fs.String("number", "", "digits anywhere in the number")
	name := fs.String("name", "", "text in the contact's name or company")
	since := fs.String("since", "", "calls from this date (YYYY-MM-DD or RFC 3339)")
	until := fs.String("until", "", "calls before this date (YYYY-MM-DD or RFC 3339)")
	missed := fs.Bool("missed", false, "only missed calls")
	limit := fs.Int("limit", 50, "how many calls (at most 1000)")
	if err := parse(fs, args); err != nil {
		return err
	}
	q := journal.Query{Number: *number, Name: *name, Missed: *missed, Limit: *limit}
	var err error
	if q.From, err = parseDate(*since); err != nil {
		return usageError{fmt.Errorf("--since: %w", err)}
	}
	if q.To, err = parseDate(*until); err != nil {
		return usageError{fmt.Errorf("--until: %w", err)}
	}
	cfg, err := settings.Load(e.configPath)
	if err != nil {
		return err
	}
	j, err := journal.Open(app.JournalPath(cfg), journal.Options{ReadOnly: true})
	if err != nil {
		return err
	}
	defer j.Close()
	calls, err := j.Search(ctx, q)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if calls == nil {
			calls = []journal.Call{}
		}
		return enc.Encode(calls)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STARTED\tDIR\tNUMBER\tCONTACT\tRESULT\tTALK\tCRM")
	for _, c := range calls {
		talk := ""
		if !c.AnsweredAt.IsZero() && !c.EndedAt.IsZero() {
			talk = c.EndedAt.Sub(c.AnsweredAt).Round(time.Second).String()
		}
		result := c.Result.String()
		if c.State != journal.StateEnded {
			result = c.State.String()
		}
		crm := c.Delivery.String()
		if c.DeliveryError != "" {
			crm += ": " + c.DeliveryError
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.StartedAt.Local().Format("2006-01-02 15:04:05"),
			c.Direction, c.Phone.String(), c.Contact.Name, result, talk, crm)
	}
	return tw.Flush()
}

func parseDate(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.ParseInLocation("2006-01-02", s, time.Local); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC3339, s)
}
