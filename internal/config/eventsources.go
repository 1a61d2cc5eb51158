package config

import (
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/ferrywasm/ferry/eventsource"
)

// EventSource is one queue or stream that feeds a function, as Lambda's
// event source mappings do. Exactly one of SQS, Kafka and RabbitMQ is set.
//
// Strings that may hold secrets or per-environment addresses (queue,
// endpoint, url, bootstrapServers, username, password) keep their ${NAME}
// references as written: Expanded replaces them when the source starts,
// so `ferry image` and `ferry k8s` never copy a secret into what they
// write. Parse checks that the variables are set and the result is valid.
type EventSource struct {
	SQS      *eventsource.SQS
	Kafka    *eventsource.Kafka
	RabbitMQ *eventsource.RabbitMQ
	// Line is the line of the entry in the file.
	Line int
}

// Kind is the source's key in the file: sqs, kafka or rabbitmq.
func (e EventSource) Kind() string {
	switch {
	case e.SQS != nil:
		return "sqs"
	case e.Kafka != nil:
		return "kafka"
	}
	return "rabbitmq"
}

// Expanded returns a copy with ${NAME} references replaced from ferry's
// environment.
func (e EventSource) Expanded() (EventSource, error) {
	return e.expand(Expand)
}

func (e EventSource) expand(expand func(string) (string, error)) (EventSource, error) {
	var errs []string
	x := func(s *string) {
		v, err := expand(*s)
		if err != nil {
			errs = append(errs, err.Error())
		}
		*s = v
	}
	switch {
	case e.SQS != nil:
		c := *e.SQS
		x(&c.Queue)
		x(&c.Endpoint)
		x(&c.Region)
		e.SQS = &c
	case e.Kafka != nil:
		c := *e.Kafka
		c.BootstrapServers = append([]string(nil), c.BootstrapServers...)
		for i := range c.BootstrapServers {
			x(&c.BootstrapServers[i])
		}
		if c.SASL != nil {
			s := *c.SASL
			x(&s.Username)
			x(&s.Password)
			c.SASL = &s
		}
		e.Kafka = &c
	case e.RabbitMQ != nil:
		c := *e.RabbitMQ
		x(&c.URL)
		x(&c.VirtualHost)
		e.RabbitMQ = &c
	}
	if errs != nil {
		return e, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return e, nil
}

// normalize makes empty lists nil, as Marshal leaves them out: a file and
// its Marshal output parse to the same value.
func (e *EventSource) normalize() {
	nilIfEmpty := func(s []string) []string {
		if len(s) == 0 {
			return nil
		}
		return s
	}
	filters := func(f *eventsource.FilterCriteria) {
		if len(f.Filters) == 0 {
			f.Filters = nil
		}
	}
	switch {
	case e.SQS != nil:
		e.SQS.FunctionResponseTypes = nilIfEmpty(e.SQS.FunctionResponseTypes)
		filters(&e.SQS.FilterCriteria)
	case e.Kafka != nil:
		e.Kafka.BootstrapServers = nilIfEmpty(e.Kafka.BootstrapServers)
		e.Kafka.Topics = nilIfEmpty(e.Kafka.Topics)
		filters(&e.Kafka.FilterCriteria)
	case e.RabbitMQ != nil:
		filters(&e.RabbitMQ.FilterCriteria)
	}
}

// yamlKeys lists the keys a configuration struct takes, from its yaml tags.
func yamlKeys(v any) []string {
	var keys []string
	t := reflect.TypeOf(v)
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			keys = append(keys, name)
		}
	}
	return keys
}

// eventSources parses a function's eventSources: list. Each entry is a
// mapping with one key, the kind, whose value is the source's settings.
func (p *parser) eventSources(n *yaml.Node, where string) []EventSource {
	items, ok := p.seq(n, where)
	if !ok {
		return nil
	}
	var out []EventSource
	for j, item := range items {
		at := fmt.Sprintf("%s[%d]", where, j)
		m, ok := p.fields(item, at, eventSourceKeys...)
		if !ok {
			continue
		}
		if len(m) != 1 {
			p.fail(item, at, "want exactly one of sqs, kafka, rabbitmq")
			continue
		}
		es := EventSource{Line: deref(item).Line}
		var target any
		var keys []string
		var kind string
		var v *yaml.Node
		switch {
		case m["sqs"] != nil:
			es.SQS, kind, v = &eventsource.SQS{}, "sqs", m["sqs"]
			target, keys = es.SQS, yamlKeys(eventsource.SQS{})
		case m["kafka"] != nil:
			es.Kafka, kind, v = &eventsource.Kafka{}, "kafka", m["kafka"]
			target, keys = es.Kafka, yamlKeys(eventsource.Kafka{})
		default:
			es.RabbitMQ, kind, v = &eventsource.RabbitMQ{}, "rabbitmq", m["rabbitmq"]
			target, keys = es.RabbitMQ, yamlKeys(eventsource.RabbitMQ{})
		}
		errs := len(p.errs)
		if _, ok := p.fields(v, at+": "+kind, keys...); !ok || len(p.errs) > errs {
			continue
		}
		if err := deref(v).Decode(target); err != nil {
			msg := strings.TrimPrefix(err.Error(), "yaml: unmarshal errors:\n  ")
			p.fail(v, at+": "+kind, "%s", strings.Join(strings.Fields(strings.ReplaceAll(msg, "\n", "; ")), " "))
			continue
		}
		es.normalize()
		expanded, err := es.expand(func(s string) (string, error) { return expand(s, p.getenv) })
		if err != nil && p.keepRefs {
			// A template (ferry image, ferry k8s) may name variables only
			// the pod has; the source is checked when ferry serve starts it.
			if _, err := es.expand(func(s string) (string, error) {
				return expand(s, func(string) (string, bool) { return "", true })
			}); err != nil {
				p.fail(v, at+": "+kind, "%v", err)
				continue
			}
			out = append(out, es)
			continue
		}
		if err != nil {
			p.fail(v, at+": "+kind, "%v", err)
			continue
		}
		var verr error
		switch {
		case expanded.SQS != nil:
			verr = expanded.SQS.Validate()
		case expanded.Kafka != nil:
			verr = expanded.Kafka.Validate()
		default:
			verr = expanded.RabbitMQ.Validate()
		}
		if verr != nil {
			p.fail(v, at, "%v", verr)
			continue
		}
		out = append(out, es)
	}
	return out
}

// eventSourceYAML is an event source as Marshal writes it.
type eventSourceYAML struct {
	SQS      *eventsource.SQS      `yaml:"sqs,omitempty"`
	Kafka    *eventsource.Kafka    `yaml:"kafka,omitempty"`
	RabbitMQ *eventsource.RabbitMQ `yaml:"rabbitmq,omitempty"`
}
