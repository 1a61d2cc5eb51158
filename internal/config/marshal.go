package config

import (
	"bytes"
	"fmt"
	"time"

	"gopkg.in/yaml.v3"
)

// Marshal writes f back as ferry.yaml, with every path absolute, so that
// Parse of the result (where the modules and sources exist) gives f back.
// `ferry image` and `ferry k8s` use it to write the config a pod runs,
// after pointing its functions at the modules in the image.
func Marshal(f *File) ([]byte, error) {
	out := fileYAML{Region: f.Region, AccountID: f.AccountID, LogFormat: f.LogFormat}
	if f.Async != (Async{}) {
		out.Async = &asyncYAML{QueueSize: f.Async.QueueSize, MaxQueued: f.Async.MaxQueued, SpoolDir: f.Async.SpoolDir}
	}
	for _, fn := range f.Functions {
		fy := functionYAML{
			Name: fn.Name, Module: fn.Module, Source: fn.Source, Memory: fn.Memory,
			Timeout: durationText(fn.Timeout), IdleTimeout: durationText(fn.IdleTimeout),
			Environment: fn.Environment, Concurrency: fn.Concurrency, MinInstances: fn.MinInstances,
			AllowedOutboundHosts: fn.AllowedOutboundHosts, Files: fn.Files, EphemeralStorage: fn.EphemeralStorage,
			SpareInstances: fn.SpareInstances, PrimeEvent: fn.PrimeEventFile,
		}
		fy.Build = buildYAMLOf(fn.Build)
		if a := fn.AsyncConfig; a.RetryDelays != nil || a.MaxEventAge != 0 || !a.OnSuccess.IsZero() || !a.OnFailure.IsZero() {
			ay := &functionAsyncYAML{MaxEventAge: durationText(a.MaxEventAge), OnSuccess: destinationYAML(a.OnSuccess), OnFailure: destinationYAML(a.OnFailure)}
			if a.RetryDelays != nil {
				n := len(a.RetryDelays)
				ay.MaxRetries = &n
				for _, d := range a.RetryDelays {
					ay.RetryDelays = append(ay.RetryDelays, fmtDuration(d))
				}
			}
			fy.Async = ay
		}
		for _, r := range fn.HTTP {
			ry := routeYAML{Path: r.Path, Methods: r.Methods, Format: string(r.Format), Stage: r.Stage,
				BinaryMediaTypes: r.BinaryMediaTypes, MultiValueHeaders: r.MultiValueHeaders, APIKeyRequired: r.APIKeyRequired}
			if a := r.JWT; a != nil {
				ry.Authorizer = &authorizerYAML{Scopes: a.Scopes, JWT: jwtYAML{Issuer: a.Issuer, Audience: a.Audience, JWKSURI: a.JWKSURI, JWKS: a.JWKSFile}}
			}
			if c := r.CORS; c != nil {
				ry.CORS = &corsYAML{AllowOrigins: c.AllowOrigins, AllowMethods: c.AllowMethods, AllowHeaders: c.AllowHeaders,
					ExposeHeaders: c.ExposeHeaders, MaxAge: c.MaxAge, AllowCredentials: c.AllowCredentials}
			}
			fy.HTTP = append(fy.HTTP, ry)
		}
		for _, e := range fn.EventSources {
			fy.EventSources = append(fy.EventSources, eventSourceYAML{SQS: e.SQS, Kafka: e.Kafka, RabbitMQ: e.RabbitMQ})
		}
		for _, s := range fn.Schedules {
			sy := scheduleYAML{Name: s.Name, Expression: s.Expression}
			if !s.Enabled {
				sy.Enabled = new(bool)
			}
			if s.Input != nil {
				// JSON is YAML: the input's node keeps its keys' order.
				var n yaml.Node
				if err := yaml.Unmarshal(s.Input, &n); err != nil || len(n.Content) != 1 {
					return nil, fmt.Errorf("function %s: schedule %s: input is not JSON: %v", fn.Name, s.Name, err)
				}
				sy.Input = n.Content[0]
			}
			fy.Schedule = append(fy.Schedule, sy)
		}
		out.Functions = append(out.Functions, fy)
	}
	for _, a := range f.AzureApps {
		out.AzureApps = append(out.AzureApps, azureAppYAML{Path: a.Path, Module: a.Module, Build: buildYAMLOf(a.Build), Environment: a.Environment,
			Memory: a.Memory, Concurrency: a.Concurrency, StateDir: a.StateDir, AllowedOutboundHosts: a.AllowedOutboundHosts})
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(out); err != nil {
		return nil, err
	}
	return buf.Bytes(), enc.Close()
}

func durationText(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return fmtDuration(d)
}

// buildYAMLOf is nil for the default build, which writes no build:.
func buildYAMLOf(b Build) *buildYAML {
	if b == (Build{}) {
		return nil
	}
	return &buildYAML{JSONv2: b.JSONv2}
}

func destinationYAML(d Destination) *destYAML {
	if d.IsZero() {
		return nil
	}
	return &destYAML{Function: d.Function, File: d.File}
}

type fileYAML struct {
	Region    string         `yaml:"region,omitempty"`
	AccountID string         `yaml:"accountId,omitempty"`
	LogFormat string         `yaml:"logFormat,omitempty"`
	Async     *asyncYAML     `yaml:"async,omitempty"`
	Functions []functionYAML `yaml:"functions,omitempty"`
	AzureApps []azureAppYAML `yaml:"azureApps,omitempty"`
}

type azureAppYAML struct {
	Path                 string            `yaml:"path"`
	Module               string            `yaml:"module,omitempty"`
	Build                *buildYAML        `yaml:"build,omitempty"`
	Environment          map[string]string `yaml:"environment,omitempty"`
	Memory               int               `yaml:"memory,omitempty"`
	Concurrency          int               `yaml:"concurrency,omitempty"`
	StateDir             string            `yaml:"stateDir,omitempty"`
	AllowedOutboundHosts []string          `yaml:"allowedOutboundHosts,omitempty"`
}

type asyncYAML struct {
	QueueSize int    `yaml:"queueSize,omitempty"`
	MaxQueued int    `yaml:"maxQueued,omitempty"`
	SpoolDir  string `yaml:"spoolDir,omitempty"`
}

type functionYAML struct {
	Name                 string             `yaml:"name"`
	Module               string             `yaml:"module,omitempty"`
	Source               string             `yaml:"source,omitempty"`
	Build                *buildYAML         `yaml:"build,omitempty"`
	Memory               int                `yaml:"memory,omitempty"`
	Timeout              string             `yaml:"timeout,omitempty"`
	IdleTimeout          string             `yaml:"idleTimeout,omitempty"`
	Environment          map[string]string  `yaml:"environment,omitempty"`
	Concurrency          int                `yaml:"concurrency,omitempty"`
	MinInstances         int                `yaml:"minInstances,omitempty"`
	SpareInstances       int                `yaml:"spareInstances,omitempty"`
	PrimeEvent           string             `yaml:"primeEvent,omitempty"`
	AllowedOutboundHosts []string           `yaml:"allowedOutboundHosts,omitempty"`
	Files                string             `yaml:"files,omitempty"`
	EphemeralStorage     int                `yaml:"ephemeralStorage,omitempty"`
	Async                *functionAsyncYAML `yaml:"async,omitempty"`
	HTTP                 []routeYAML        `yaml:"http,omitempty"`
	Schedule             []scheduleYAML     `yaml:"schedule,omitempty"`
	EventSources         []eventSourceYAML  `yaml:"eventSources,omitempty"`
}

type buildYAML struct {
	JSONv2 bool `yaml:"jsonv2,omitempty"`
}

type functionAsyncYAML struct {
	MaxRetries  *int      `yaml:"maxRetries,omitempty"`
	RetryDelays []string  `yaml:"retryDelays,omitempty,flow"`
	MaxEventAge string    `yaml:"maxEventAge,omitempty"`
	OnSuccess   *destYAML `yaml:"onSuccess,omitempty"`
	OnFailure   *destYAML `yaml:"onFailure,omitempty"`
}

type destYAML struct {
	Function string `yaml:"function,omitempty"`
	File     string `yaml:"file,omitempty"`
}

type routeYAML struct {
	Path              string          `yaml:"path"`
	Methods           []string        `yaml:"methods,omitempty,flow"`
	Format            string          `yaml:"format,omitempty"`
	Stage             string          `yaml:"stage,omitempty"`
	BinaryMediaTypes  []string        `yaml:"binaryMediaTypes,omitempty,flow"`
	MultiValueHeaders bool            `yaml:"multiValueHeaders,omitempty"`
	APIKeyRequired    bool            `yaml:"apiKeyRequired,omitempty"`
	Authorizer        *authorizerYAML `yaml:"authorizer,omitempty"`
	CORS              *corsYAML       `yaml:"cors,omitempty"`
}

type authorizerYAML struct {
	JWT    jwtYAML  `yaml:"jwt"`
	Scopes []string `yaml:"authorizationScopes,omitempty,flow"`
}

type jwtYAML struct {
	Issuer   string   `yaml:"issuer"`
	Audience []string `yaml:"audience,flow"`
	JWKSURI  string   `yaml:"jwksUri,omitempty"`
	JWKS     string   `yaml:"jwks,omitempty"`
}

type corsYAML struct {
	AllowOrigins     []string `yaml:"allowOrigins,omitempty,flow"`
	AllowMethods     []string `yaml:"allowMethods,omitempty,flow"`
	AllowHeaders     []string `yaml:"allowHeaders,omitempty,flow"`
	ExposeHeaders    []string `yaml:"exposeHeaders,omitempty,flow"`
	MaxAge           int      `yaml:"maxAge,omitempty"`
	AllowCredentials bool     `yaml:"allowCredentials,omitempty"`
}

type scheduleYAML struct {
	Name       string     `yaml:"name"`
	Expression string     `yaml:"expression"`
	Input      *yaml.Node `yaml:"input,omitempty"`
	Enabled    *bool      `yaml:"enabled,omitempty"`
}
