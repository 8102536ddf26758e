package retailcrm

import (
	"context"
	"net/http"
	"net/url"
	"reflect"
	"testing"

	"github.com/ringside/ringside/connectors"
)

func TestLookup(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   connectors.Contact
	}{
		{"customer with manager, numeric ids", 200, `{"success":true,
			"manager":{"id":5,"firstName":"Maria","lastName":"Ionescu","email":"m@shop.example"},
			"customer":{"id":42,"externalId":"c-42","firstName":"Ion","lastName":"Popescu","patronymic":"","phones":[{"number":"+79121234567"}]},
			"links":{"customerLink":"https://demo.retailcrm.ru/customers/42","newCustomerLink":"https://demo.retailcrm.ru/customers/add?phone=79121234567",
			         "newOrderLink":"https://demo.retailcrm.ru/orders/add?customerId=42","lastOrderLink":"https://demo.retailcrm.ru/orders/7/edit"}}`,
			connectors.Contact{ID: "42", Name: "Ion Popescu", Manager: "Maria Ionescu", Source: "crm",
				URL: "https://demo.retailcrm.ru/customers/42", NewURL: "https://demo.retailcrm.ru/customers/add?phone=79121234567",
				Extra: map[string]string{"new_order_url": "https://demo.retailcrm.ru/orders/add?customerId=42", "last_order_url": "https://demo.retailcrm.ru/orders/7/edit",
					"manager_id": "5", "external_id": "c-42"}}},
		{"string ids and a patronymic", 200, `{"success":true,"manager":{"id":"5","firstName":"Анна"},
			"customer":{"id":"42","firstName":"Иван","patronymic":"Иванович","lastName":"Петров"},"links":{"customerLink":"https://demo.retailcrm.ru/customers/42"}}`,
			connectors.Contact{ID: "42", Name: "Иван Иванович Петров", Manager: "Анна", Source: "crm", URL: "https://demo.retailcrm.ru/customers/42",
				Extra: map[string]string{"manager_id": "5"}}},
		{"corporate customer", 200, `{"success":true,"customer":{"id":9,"type":"customer_corporate","nickName":"Acme LLC"},"links":{}}`,
			connectors.Contact{ID: "9", Company: "Acme LLC", Source: "crm"}},
		{"unknown number: empty lists, a link to create", 200, `{"success":true,"manager":[],"customer":[],
			"links":{"newCustomerLink":"https://demo.retailcrm.ru/customers/add","newOrderLink":"https://demo.retailcrm.ru/orders/add"}}`,
			connectors.Contact{Source: "crm", NewURL: "https://demo.retailcrm.ru/customers/add", Extra: map[string]string{"new_order_url": "https://demo.retailcrm.ru/orders/add"}}},
		{"unknown number: nothing at all", 200, `{"success":true}`, connectors.Contact{Source: "crm"}},
		{"links that are not web addresses are dropped", 200, `{"success":true,"customer":{"id":1,"firstName":"X"},"links":{"customerLink":"javascript:alert(1)","newCustomerLink":"/customers/add"}}`,
			connectors.Contact{ID: "1", Name: "X", Source: "crm"}},
		{"404 saying not found", 404, `{"success":false,"errorMsg":"Not found"}`, connectors.Contact{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFake(t, reply(tt.status, tt.body))
			c := newTestCRM(t, testDeps(t), baseConf(srv.URL))
			got, err := c.Lookup(context.Background(), caller)
			if err != nil {
				t.Fatalf("Lookup: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Lookup =\n%+v\nwant\n%+v", got, tt.want)
			}
			reqs := srv.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			checkRequest(t, reqs[0], http.MethodGet, "/api/v5/telephony/manager")
			if want := (url.Values{"phone": {"+79121234567"}, "details": {"1"}, "ignoreStatus": {"1"}}); !reflect.DeepEqual(reqs[0].Query, want) || reqs[0].Body != "" {
				t.Errorf("query %v body %q, want %v and no body", reqs[0].Query, reqs[0].Body, want)
			}
		})
	}
}

func TestLookupRefusesOddAnswers(t *testing.T) {
	for _, body := range []string{
		`{"success":true,"customer":"Ion"}`,
		`{"success":true,"customer":{"id":{"x":1}}}`,
		`{"success":true,"links":[1]}`,
		`{"success":true,"manager":{"firstName":true}}`,
	} {
		srv := newFake(t, reply(200, body))
		c := newTestCRM(t, testDeps(t), baseConf(srv.URL))
		if got, err := c.Lookup(context.Background(), caller); err == nil {
			t.Errorf("Lookup of %s = %+v, %v; want an error", body, got, err)
		}
	}
}

func TestLookupWithoutNumber(t *testing.T) {
	srv := newFake(t, ok)
	c := newTestCRM(t, testDeps(t), baseConf(srv.URL))
	if got, err := c.Lookup(context.Background(), connectors.Phone{}); err != nil || got.Known() {
		t.Errorf("Lookup of no number = %+v, %v", got, err)
	}
	if len(srv.requests()) != 0 {
		t.Error("a lookup without a number was sent")
	}
}
