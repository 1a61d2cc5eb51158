package events

import (
	"strings"
	"testing"
	"time"
)

func TestStandardCron(t *testing.T) {
	for _, c := range []struct{ expr, want string }{
		{"rate(1 minute)", "* * * * *"},
		{"rate(5 minutes)", "*/5 * * * *"},
		{"rate(30 minutes)", "*/30 * * * *"},
		{"rate(60 minutes)", "0 * * * *"},
		{"rate(1 hour)", "0 * * * *"},
		{"rate(6 hours)", "0 */6 * * *"},
		{"rate(1 day)", "0 0 * * *"},
		{"rate(24 hours)", "0 0 * * *"},
		{"cron(0 12 * * ? *)", "0 12 * * *"},
		{"cron(0/15 8-17 ? * MON-FRI *)", "0,15,30,45 8-17 * * 1-5"},
		{"cron(5,6 0 1,15 JAN,jul ? *)", "5,6 0 1,15 1,7 *"},
		{"cron(0 9 ? * SUN,SAT *)", "0 9 * * 0,6"},
		{"cron(0 9 ? * 1-7 *)", "0 9 * * *"},
		{"cron(0 9 ? * L *)", "0 9 * * 6"},
		{"cron(* * * * ? *)", "* * * * *"},
	} {
		s, err := ParseSchedule(c.expr)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.StandardCron()
		if err != nil || got != c.want {
			t.Errorf("%s: got %q, %v; want %q", c.expr, got, err, c.want)
		}
	}
	for _, c := range []struct{ expr, want string }{
		{"rate(7 minutes)", "can only repeat at periods"},
		{"rate(90 minutes)", "can only repeat at periods"},
		{"rate(2 days)", "can only repeat at periods"},
		{"cron(0 0 1 1 ? 2030)", "no year field"},
		{"cron(0 0 L * ? *)", "L (the last day of the month)"},
		{"cron(0 0 15W * ? *)", "W (the nearest weekday)"},
		{"cron(0 9 ? * 2#1 *)", "# (the n-th weekday"},
		{"cron(0 9 ? * 6L *)", "nL"},
	} {
		s, err := ParseSchedule(c.expr)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := s.StandardCron(); err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.expr) {
			t.Errorf("%s: got %q, %v; want an error about %q", c.expr, got, err, c.want)
		}
	}
}

// TestStandardCronSameFirings checks converted crons against the
// EventBridge evaluator: a minimal five-field evaluator over the output
// fires at the same minutes through a year.
func TestStandardCronSameFirings(t *testing.T) {
	for _, expr := range []string{"cron(0/15 8-17 ? * MON-FRI *)", "cron(30 2 1,15 * ? *)", "cron(0 9 ? * SUN,SAT *)", "cron(10 */5 ? FEB-APR WED *)"} {
		s, err := ParseSchedule(expr)
		if err != nil {
			t.Fatal(err)
		}
		five, err := s.StandardCron()
		if err != nil {
			t.Fatal(err)
		}
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		next := s.Next(t0.Add(-time.Minute))
		for m := t0; m.Before(t0.AddDate(1, 0, 0)); m = m.Add(time.Minute) {
			fires := matchFive(t, five, m)
			if fires != next.Equal(m) {
				t.Fatalf("%s as %q: at %s five-field says %v, EventBridge next is %s", expr, five, m, fires, next)
			}
			if fires {
				next = s.Next(m)
			}
		}
	}
}

// matchFive evaluates the subset of five-field cron StandardCron writes
// (numbers, ranges, lists, *, */n), with one of the day fields *.
func matchFive(t *testing.T, expr string, m time.Time) bool {
	f := strings.Fields(expr)
	in := func(field string, v int) bool {
		if field == "*" {
			return true
		}
		if step, ok := strings.CutPrefix(field, "*/"); ok {
			n := 0
			for _, c := range step {
				n = n*10 + int(c-'0')
			}
			return v%n == 0
		}
		for _, part := range strings.Split(field, ",") {
			lo, hi, isRange := strings.Cut(part, "-")
			a, b := atoi(t, lo), atoi(t, lo)
			if isRange {
				b = atoi(t, hi)
			}
			if v >= a && v <= b {
				return true
			}
		}
		return false
	}
	return in(f[0], m.Minute()) && in(f[1], m.Hour()) && in(f[2], m.Day()) && in(f[3], int(m.Month())) && in(f[4], int(m.Weekday()))
}

func atoi(t *testing.T, s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			t.Fatalf("bad number %q", s)
		}
		n = n*10 + int(c-'0')
	}
	return n
}
