package migrate

import (
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ferrywasm/ferry/eventsource"
	"github.com/ferrywasm/ferry/internal/config"
)

// queueEvent converts a SAM SQS, MSK, SelfManagedKafka or MQ event into an
// event source of fn (ferry.yaml eventSources:). Values the template
// cannot give (a queue created in the stack, an MSK cluster's brokers, an
// Amazon MQ broker's URL) become ${NAME} references ferry serve reads from
// its environment, and the report says to set them.
func (c *cfn) queueEvent(typ string, n, props *yaml.Node, ppath string, fn *config.Function, item *Item) error {
	t := c.t
	str := func(key string) (string, error) {
		v, err := t.field(props, key, ppath)
		if v == nil || err != nil {
			return "", err
		}
		return t.evalString(v, ppath+"."+key)
	}
	num := func(key string) (int, error) {
		v, err := t.field(props, key, ppath)
		if v == nil || err != nil {
			return 0, err
		}
		return t.evalInt(v, ppath+"."+key)
	}
	list := func(node *yaml.Node, path string) ([]string, error) {
		if node == nil {
			return nil, nil
		}
		v, err := t.eval(node, path)
		if err != nil {
			return nil, err
		}
		items, ok := v.([]any)
		if !ok {
			return nil, t.errorf(node, path, "want a list")
		}
		var out []string
		for _, it := range items {
			s, ok := it.(string)
			if !ok {
				return nil, t.errorf(node, path, "want a list of strings")
			}
			out = append(out, s)
		}
		return out, nil
	}
	strs := func(key string) ([]string, error) {
		v, err := t.field(props, key, ppath)
		if err != nil {
			return nil, err
		}
		return list(v, ppath+"."+key)
	}
	var attention []string
	if v, err := str("Enabled"); err != nil {
		return err
	} else if v == "false" {
		item.Status, item.Detail = NotSupported, typ+" event is disabled in the template"
		item.Action = "left out; add it to eventSources: in ferry.yaml to run it"
		return nil
	}
	batch, err := num("BatchSize")
	if err != nil {
		return err
	}
	window, err := num("MaximumBatchingWindowInSeconds")
	if err != nil {
		return err
	}
	var filters eventsource.FilterCriteria
	if fc, err := t.field(props, "FilterCriteria", ppath); err != nil {
		return err
	} else if fc != nil {
		fl, err := t.field(fc, "Filters", ppath+".FilterCriteria")
		if err != nil {
			return err
		}
		if fl != nil {
			for i, f := range fl.Content {
				p, err := t.field(f, "Pattern", fmt.Sprintf("%s.FilterCriteria.Filters[%d]", ppath, i))
				if err != nil {
					return err
				}
				s, err := t.evalString(p, fmt.Sprintf("%s.FilterCriteria.Filters[%d].Pattern", ppath, i))
				if err != nil {
					return err
				}
				filters.Filters = append(filters.Filters, eventsource.Filter{Pattern: s})
			}
		}
	}
	if d, err := t.field(props, "DestinationConfig", ppath); err != nil {
		return err
	} else if d != nil {
		attention = append(attention, "its OnFailure destination is not run: for Kafka set onFailure: {topic: …} in ferry.yaml")
	}
	if sac, err := t.field(props, "SourceAccessConfigurations", ppath); err != nil {
		return err
	} else if sac != nil && typ != "SQS" {
		attention = append(attention, "SourceAccessConfigurations (secrets, VPC) are not read: put the credentials in ferry.yaml as ${NAME} references (sasl: for Kafka, the url: for RabbitMQ)")
	}
	env := strings.ToUpper(envName(fn.Name))
	es := config.EventSource{}
	switch typ {
	case "SQS":
		q, err := str("Queue")
		if err != nil {
			return err
		}
		if q == "" {
			return t.errorf(n, ppath, "Queue: missing")
		}
		rt, err := strs("FunctionResponseTypes")
		if err != nil {
			return err
		}
		conc := 0
		if sc, err := t.field(props, "ScalingConfig", ppath); err != nil {
			return err
		} else if sc != nil {
			mc, err := t.field(sc, "MaximumConcurrency", ppath+".ScalingConfig")
			if err != nil {
				return err
			}
			if conc, err = t.evalInt(mc, ppath+".ScalingConfig.MaximumConcurrency"); err != nil {
				return err
			}
		}
		es.SQS = &eventsource.SQS{Queue: ferryValue(q), BatchSize: batch, MaximumBatchingWindow: eventsource.Window(time.Duration(window) * time.Second),
			FunctionResponseTypes: rt, MaximumConcurrency: conc, FilterCriteria: filters}
		item.Detail = "sqs event source " + ferryValue(q)
		if strings.Contains(q, phOpen) {
			attention = append(attention, "set the queue's variable to its URL (its ARN works for ferry serve, but KEDA's scaler needs the URL)")
		}
	case "MSK", "SelfManagedKafka":
		topics, err := strs("Topics")
		if err != nil {
			return err
		}
		start, err := str("StartingPosition")
		if err != nil {
			return err
		}
		if start == "AT_TIMESTAMP" {
			attention = append(attention, "StartingPosition AT_TIMESTAMP is read as TRIM_HORIZON")
			start = "TRIM_HORIZON"
		}
		k := &eventsource.Kafka{Topics: topics, StartingPosition: start, BatchSize: batch,
			MaximumBatchingWindow: eventsource.Window(time.Duration(window) * time.Second), FilterCriteria: filters}
		cfgKey := "SelfManagedKafkaEventSourceConfig"
		if typ == "MSK" {
			cfgKey = "AmazonManagedKafkaEventSourceConfig"
			stream, err := str("Stream")
			if err != nil {
				return err
			}
			k.EventSourceARN = ferryValue(stream)
			k.BootstrapServers = []string{ferryValue(t.placeholder(env+"_KAFKA_BROKERS", "the MSK cluster's bootstrap brokers (host:port,…) for "+fn.Name, n, ppath+".Stream"))}
		} else {
			bs, err := t.field(props, "KafkaBootstrapServers", ppath)
			if err != nil {
				return err
			}
			servers, err := list(bs, ppath+".KafkaBootstrapServers")
			if err != nil {
				return err
			}
			for _, s := range servers {
				k.BootstrapServers = append(k.BootstrapServers, ferryValue(s))
			}
		}
		if ec, err := t.field(props, cfgKey, ppath); err != nil {
			return err
		} else if ec != nil {
			g, err := t.field(ec, "ConsumerGroupId", ppath+"."+cfgKey)
			if err != nil {
				return err
			}
			if k.ConsumerGroupID, err = t.evalString(g, ppath+"."+cfgKey+".ConsumerGroupId"); err != nil {
				return err
			}
		}
		es.Kafka = k
		item.Detail = "kafka event source, topics " + strings.Join(topics, ", ")
	case "MQ":
		queues, err := strs("Queues")
		if err != nil {
			return err
		}
		if len(queues) == 0 {
			return t.errorf(n, ppath, "Queues: missing")
		}
		url := t.placeholder(env+"_RABBITMQ_URL", "the Amazon MQ RabbitMQ broker's amqps:// URL, with its user and password, for "+fn.Name, n, ppath+".Broker")
		// One source per queue; the last is appended below with the others.
		for _, q := range queues[:len(queues)-1] {
			fn.EventSources = append(fn.EventSources, config.EventSource{RabbitMQ: &eventsource.RabbitMQ{URL: ferryValue(url), Queue: q, BatchSize: batch,
				MaximumBatchingWindow: eventsource.Window(time.Duration(window) * time.Second), FilterCriteria: filters}})
		}
		es.RabbitMQ = &eventsource.RabbitMQ{URL: ferryValue(url), Queue: queues[len(queues)-1], BatchSize: batch,
			MaximumBatchingWindow: eventsource.Window(time.Duration(window) * time.Second), FilterCriteria: filters}
		item.Detail = "rabbitmq event source, queues " + strings.Join(queues, ", ")
		attention = append(attention, "ferry reads RabbitMQ brokers only, not ActiveMQ")
	}
	fn.EventSources = append(fn.EventSources, es)
	if len(attention) > 0 {
		item.Status, item.Action = Attention, strings.Join(attention, "; ")
	}
	return nil
}
