package retailcrm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/ringside/ringside/connectors"
)

// managerAnswer is what GET /api/v5/telephony/manager answers. Each part may
// be an object, null, or an empty list (PHP's empty array).
type managerAnswer struct {
	Manager  json.RawMessage `json:"manager"`
	Customer json.RawMessage `json:"customer"`
	Links    json.RawMessage `json:"links"`
}

// person is a customer or a manager; ids may be numbers or strings.
type person struct {
	ID         flexString `json:"id"`
	ExternalID flexString `json:"externalId"`
	Type       flexString `json:"type"`
	FirstName  flexString `json:"firstName"`
	LastName   flexString `json:"lastName"`
	Patronymic flexString `json:"patronymic"`
	NickName   flexString `json:"nickName"` // a corporate customer's name
}

func (p person) name() string {
	return strings.Join(strings.Fields(strings.Join([]string{string(p.FirstName), string(p.Patronymic), string(p.LastName)}, " ")), " ")
}

type links struct {
	CustomerLink    flexString `json:"customerLink"`
	NewCustomerLink flexString `json:"newCustomerLink"`
	NewOrderLink    flexString `json:"newOrderLink"`
	LastOrderLink   flexString `json:"lastOrderLink"`
}

// object decodes raw into v when it is a JSON object; null, an empty list
// and absence leave v as it is.
func object(raw json.RawMessage, v any) error {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return nil
	case raw[0] == '[':
		var list []json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil || len(list) > 0 {
			return errors.New("want an object, got a list")
		}
		return nil
	case raw[0] != '{':
		return fmt.Errorf("want an object, got %.20s", raw)
	}
	return json.Unmarshal(raw, v)
}

// contact makes a Contact of the answer: the customer's id and name (a
// corporate customer's nickName as company), the responsible manager, the
// customer's page (customerLink) and the page that creates one
// (newCustomerLink). The order links go to Extra.
func (a managerAnswer) contact() (connectors.Contact, error) {
	var cust, mgr person
	var l links
	if err := object(a.Customer, &cust); err != nil {
		return connectors.Contact{}, fmt.Errorf("customer: %w", err)
	}
	if err := object(a.Manager, &mgr); err != nil {
		return connectors.Contact{}, fmt.Errorf("manager: %w", err)
	}
	if err := object(a.Links, &l); err != nil {
		return connectors.Contact{}, fmt.Errorf("links: %w", err)
	}
	c := connectors.Contact{
		ID:      string(cust.ID),
		Name:    cust.name(),
		Manager: mgr.name(),
		URL:     webLink(string(l.CustomerLink)),
		NewURL:  webLink(string(l.NewCustomerLink)),
	}
	if cust.NickName != "" && (cust.Type == "customer_corporate" || c.Name == "") {
		c.Company = string(cust.NickName)
	}
	extra := map[string]string{
		"new_order_url":  webLink(string(l.NewOrderLink)),
		"last_order_url": webLink(string(l.LastOrderLink)),
		"manager_id":     string(mgr.ID),
		"external_id":    string(cust.ExternalID),
	}
	for k, v := range extra {
		if v == "" {
			delete(extra, k)
		}
	}
	if len(extra) > 0 {
		c.Extra = extra
	}
	return c, nil
}

// decodeContact reads a successful answer of telephony/manager.
func decodeContact(b []byte) (connectors.Contact, error) {
	var a managerAnswer
	if err := decodeAnswer(b, &a); err != nil {
		return connectors.Contact{}, err
	}
	c, err := a.contact()
	if err != nil {
		return connectors.Contact{}, &APIError{Status: http.StatusOK, Msg: "the answer is not what the API documents: " + clean(err.Error())}
	}
	return c, nil
}

// webLink keeps an http(s) address and drops anything else, so the popup
// never opens a javascript: or file: link.
func webLink(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Scheme != "https" && u.Scheme != "http" {
		return ""
	}
	return s
}

// Lookup asks retailCRM for the customer behind a number and their
// responsible manager: GET /api/v5/telephony/manager?details=1&
// ignoreStatus=1&phone=… (the number in E.164 when known). ignoreStatus
// names the manager even when they are not free: the popup wants who is
// responsible, not who could take the call. A number retailCRM does not
// know is a Contact that is not Known, still carrying newCustomerLink as
// NewURL; so is a 404 whose JSON says nothing about the method. It blocks
// on the network; the engine bounds it with its lookup timeout.
func (c *CRM) Lookup(ctx context.Context, p connectors.Phone) (connectors.Contact, error) {
	phone := phoneOf(p)
	if phone == "" {
		return connectors.Contact{}, nil
	}
	b, err := c.do(ctx, request{
		method: http.MethodGet,
		path:   pathManager,
		query:  url.Values{"phone": {phone}, "details": {"1"}, "ignoreStatus": {"1"}},
	})
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound && !ae.HTML && ae.Msg != "" && !strings.Contains(strings.ToLower(ae.Msg), "method") {
		return connectors.Contact{}, nil
	}
	if err != nil {
		return connectors.Contact{}, fmt.Errorf("retailcrm: lookup: %w", err)
	}
	contact, err := decodeContact(b)
	if err != nil {
		return connectors.Contact{}, fmt.Errorf("retailcrm: lookup: %w", err)
	}
	contact.Source = c.name
	return contact, nil
}
