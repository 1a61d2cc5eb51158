package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/ferrywasm/ferry/lambdaspec"
)

// Schedule is a parsed EventBridge schedule expression: rate(value unit) or
// cron(minutes hours day-of-month month day-of-week year), evaluated in UTC
// as EventBridge evaluates scheduled rules.
//
// The cron dialect is EventBridge's (Quartz-like, with a year field, 1 =
// SUNDAY in day-of-week, ? and the L, W and # wildcards), which the usual Go
// cron packages do not parse. Where the AWS documentation is silent, the
// parser rejects rather than guesses: ranges must not wrap (22-2), L and W
// and # must stand alone in their field, and / is not accepted in
// day-of-week (the English reference lists only , - * ? L # there).
type Schedule struct {
	expr  string
	every time.Duration // rate expressions
	cron  *cronSpec     // cron expressions
}

// ParseSchedule parses an EventBridge schedule expression, following the
// rules of the EventBridge user guide's rate and cron references:
//
//	rate(1 minute), rate(5 minutes), rate(1 hour), rate(2 hours), rate(1 day), rate(7 days)
//	cron(0 12 * * ? *), cron(0/15 8-17 ? * MON-FRI *), cron(0 9 ? * 2#1 *), cron(0 0 L * ? 2030)
//
// Errors quote the expression and name the offending field and value.
func ParseSchedule(expr string) (*Schedule, error) {
	switch {
	case strings.HasPrefix(expr, "rate(") && strings.HasSuffix(expr, ")"):
		d, err := parseRate(expr[len("rate(") : len(expr)-1])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", expr, err)
		}
		return &Schedule{expr: expr, every: d}, nil
	case strings.HasPrefix(expr, "cron(") && strings.HasSuffix(expr, ")"):
		c, err := parseCron(expr[len("cron(") : len(expr)-1])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", expr, err)
		}
		return &Schedule{expr: expr, cron: c}, nil
	}
	return nil, fmt.Errorf("invalid schedule expression %q: want rate(value unit) or cron(minutes hours day-of-month month day-of-week year)", expr)
}

// String returns the expression as it was parsed.
func (s *Schedule) String() string { return s.expr }

// Interval is the period of a rate expression, and 0 for a cron expression.
func (s *Schedule) Interval() time.Duration { return s.every }

// Next returns the first firing strictly after after, in UTC, or the zero
// time when the schedule never fires again (a cron expression whose years
// are past, or whose days never occur, like the 30th of February).
//
// EventBridge starts a rate schedule's clock when the rule is created and
// fires every interval from then on; Next models that by returning
// after + interval, so a caller that feeds each firing back into Next gets
// the rate's cadence from whenever it started.
func (s *Schedule) Next(after time.Time) time.Time {
	if s.cron == nil {
		return after.UTC().Add(s.every)
	}
	return s.cron.next(after)
}

// ScheduledEvent is the payload EventBridge delivers to a function targeted
// by a scheduled rule: aws-lambda-go's events.EventBridgeEvent with
// detail-type "Scheduled Event", source "aws.events", the rule's ARN as the
// only resource, an empty detail, a fresh version 4 UUID as id and t in UTC
// to the second as time.
func ScheduledEvent(ruleName, region, accountID string, t time.Time) ([]byte, error) {
	for _, f := range []struct{ name, value string }{{"rule name", ruleName}, {"region", region}, {"account ID", accountID}} {
		if f.value == "" {
			return nil, fmt.Errorf("scheduled event: empty %s", f.name)
		}
	}
	return json.Marshal(lambdaevents.EventBridgeEvent{
		Version:    "0",
		ID:         lambdaspec.NewGUID(),
		DetailType: "Scheduled Event",
		Source:     "aws.events",
		AccountID:  accountID,
		Time:       t.UTC().Truncate(time.Second),
		Region:     region,
		Resources:  []string{"arn:" + schedulePartition(region) + ":events:" + region + ":" + accountID + ":rule/" + ruleName},
		Detail:     json.RawMessage(`{}`),
	})
}

// schedulePartition is the ARN partition a region belongs to.
func schedulePartition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}

// parseRate parses the inside of rate(...): a positive integer and a unit
// that is singular for 1 and plural otherwise.
func parseRate(s string) (time.Duration, error) {
	f := strings.Split(s, " ")
	if len(f) != 2 {
		return 0, errors.New("want rate(value unit), like rate(5 minutes)")
	}
	value, unit := f[0], f[1]
	n, err := strconv.Atoi(value)
	if err != nil || n < 1 || strings.HasPrefix(value, "+") {
		return 0, fmt.Errorf("value %q is not a positive integer", value)
	}
	var d time.Duration
	switch strings.TrimSuffix(unit, "s") {
	case "minute":
		d = time.Minute
	case "hour":
		d = time.Hour
	case "day":
		d = 24 * time.Hour
	default:
		return 0, fmt.Errorf("unit %q is not one of minute, minutes, hour, hours, day, days", unit)
	}
	plural := strings.HasSuffix(unit, "s")
	switch {
	case n == 1 && plural:
		return 0, fmt.Errorf("unit must be singular for a value of 1: rate(1 %s)", strings.TrimSuffix(unit, "s"))
	case n > 1 && !plural:
		return 0, fmt.Errorf("unit must be plural for a value above 1: rate(%d %ss)", n, unit)
	}
	if int64(n) > int64(1<<63-1)/int64(d) {
		return 0, fmt.Errorf("value %d is too large", n)
	}
	return time.Duration(n) * d, nil
}

// cronBits holds the values of one cron field; years are stored as year-1970.
type cronBits [4]uint64

func (b *cronBits) set(i int)      { b[i/64] |= 1 << (i % 64) }
func (b *cronBits) has(i int) bool { return i >= 0 && i < 256 && b[i/64]&(1<<(i%64)) != 0 }

// Day-of-month forms.
const (
	domAny     = iota // ?
	domSet            // values, ranges, steps, *
	domLast           // L
	domWeekday        // nW
)

// Day-of-week forms.
const (
	dowAny  = iota // ?
	dowSet         // values (1 = SUN), ranges, *, and L alone (SAT)
	dowLast        // nL: the last weekday n of the month
	dowNth         // n#k: the k-th weekday n of the month
)

type cronSpec struct {
	minutes, hours, months, years cronBits
	domKind                       int
	dom                           cronBits
	domDay                        int // nW
	dowKind                       int
	dow                           cronBits
	dowDay, dowNth                int // nL, n#k
}

type cronField struct {
	name     string
	min, max int
	names    []string // names[i] is the name of value min+i
	offset   int      // subtracted before storing (years)
	special  string   // how ? L W # may be used, for errors
}

var (
	fieldMinutes    = cronField{name: "minutes", min: 0, max: 59}
	fieldHours      = cronField{name: "hours", min: 0, max: 23}
	fieldDayOfMonth = cronField{name: "day-of-month", min: 1, max: 31,
		special: "? and L must stand alone in day-of-month, W follows a single day (15W), and # belongs to day-of-week"}
	fieldMonth     = cronField{name: "month", min: 1, max: 12, names: []string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}}
	fieldDayOfWeek = cronField{name: "day-of-week", min: 1, max: 7, names: []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"},
		special: "? and L must stand alone in day-of-week, or L follow a single day (6L), or # join a day and a week (3#2); W is not allowed"}
	fieldYear = cronField{name: "year", min: 1970, max: 2199, offset: 1970}
)

// errorf prefixes an error with the field name.
func (f cronField) errorf(format string, args ...any) error {
	return fmt.Errorf(f.name+": "+format, args...)
}

func (f cronField) rangeText() string {
	if f.names != nil {
		return fmt.Sprintf("%d-%d or %s-%s", f.min, f.max, f.names[0], f.names[len(f.names)-1])
	}
	return fmt.Sprintf("%d-%d", f.min, f.max)
}

// value parses one number or name of the field.
func (f cronField) value(s string) (int, error) {
	if s == "" {
		return 0, f.errorf("missing value")
	}
	for i, name := range f.names {
		if strings.EqualFold(s, name) {
			return f.min + i, nil
		}
	}
	if strings.ContainsAny(s, "?LW#") {
		if f.special == "" {
			return 0, f.errorf("%q: only , - * / are allowed in %s", s, f.name)
		}
		return 0, f.errorf("%q: %s", s, f.special)
	}
	n, err := strconv.Atoi(s)
	if err != nil || strings.HasPrefix(s, "+") || strings.HasPrefix(s, "-") {
		return 0, f.errorf("%q is not a valid value (want %s)", s, f.rangeText())
	}
	if n < f.min || n > f.max {
		return 0, f.errorf("%d is out of range %s", n, f.rangeText())
	}
	return n, nil
}

// list parses the , - * / forms of a field.
func (f cronField) list(s string, allowStep bool) (cronBits, error) {
	var b cronBits
	for _, item := range strings.Split(s, ",") {
		if item == "" {
			return b, f.errorf("empty item in %q", s)
		}
		base, stepText, hasStep := strings.Cut(item, "/")
		step := 1
		if hasStep {
			if !allowStep {
				return b, f.errorf("%q: / is not allowed in %s", item, f.name)
			}
			n, err := strconv.Atoi(stepText)
			if err != nil || n < 1 || n > f.max || strings.HasPrefix(stepText, "+") {
				return b, f.errorf("%q: the increment after / must be an integer from 1 to %d", item, f.max)
			}
			step = n
		}
		lo, hi := f.min, f.max
		switch {
		case base == "*":
		case strings.Contains(base, "-"):
			a, z, _ := strings.Cut(base, "-")
			var err error
			if lo, err = f.value(a); err != nil {
				return b, err
			}
			if hi, err = f.value(z); err != nil {
				return b, err
			}
			if lo > hi {
				return b, f.errorf("range %q runs backwards", base)
			}
		default:
			v, err := f.value(base)
			if err != nil {
				return b, err
			}
			lo = v
			if !hasStep {
				hi = v
			}
		}
		for v := lo; v <= hi; v += step {
			b.set(v - f.offset)
		}
	}
	return b, nil
}

// parseCron parses the six fields inside cron(...). Names and wildcards
// are case-insensitive, as in Quartz, which EventBridge's dialect follows.
func parseCron(s string) (*cronSpec, error) {
	fields := strings.Fields(strings.ToUpper(s))
	if len(fields) != 6 {
		return nil, fmt.Errorf("want 6 fields (minutes hours day-of-month month day-of-week year), got %d", len(fields))
	}
	c := &cronSpec{}
	var err error
	if c.minutes, err = fieldMinutes.list(fields[0], true); err != nil {
		return nil, err
	}
	if c.hours, err = fieldHours.list(fields[1], true); err != nil {
		return nil, err
	}
	if err := c.parseDayOfMonth(fields[2]); err != nil {
		return nil, err
	}
	if c.months, err = fieldMonth.list(fields[3], true); err != nil {
		return nil, err
	}
	if err := c.parseDayOfWeek(fields[4]); err != nil {
		return nil, err
	}
	if c.years, err = fieldYear.list(fields[5], true); err != nil {
		return nil, err
	}
	switch {
	case c.domKind == domAny && c.dowKind == dowAny:
		return nil, errors.New("day-of-month and day-of-week cannot both be ?; specify one of them")
	case c.domKind != domAny && c.dowKind != dowAny:
		return nil, errors.New("day-of-month and day-of-week cannot both be specified; use ? in one")
	}
	return c, nil
}

func (c *cronSpec) parseDayOfMonth(s string) error {
	f := fieldDayOfMonth
	switch {
	case s == "?":
		c.domKind = domAny
		return nil
	case s == "L":
		c.domKind = domLast
		return nil
	case strings.HasSuffix(s, "W"):
		day := strings.TrimSuffix(s, "W")
		if strings.ContainsAny(day, ",-*/?LW#") {
			return f.errorf("%q: W takes a single day, like 15W", s)
		}
		n, err := f.value(day)
		if err != nil {
			return err
		}
		c.domKind, c.domDay = domWeekday, n
		return nil
	}
	b, err := f.list(s, true)
	if err != nil {
		return err
	}
	c.domKind, c.dom = domSet, b
	return nil
}

func (c *cronSpec) parseDayOfWeek(s string) error {
	f := fieldDayOfWeek
	switch {
	case s == "?":
		c.dowKind = dowAny
		return nil
	case s == "L": // the last day of the week
		c.dowKind = dowSet
		c.dow.set(7)
		return nil
	case strings.Contains(s, "#"):
		day, nth, _ := strings.Cut(s, "#")
		if strings.ContainsAny(s, ",-*/?L") || strings.Contains(nth, "#") {
			return f.errorf("%q: # allows one expression only, like 3#2 (the second Tuesday)", s)
		}
		d, err := f.value(day)
		if err != nil {
			return err
		}
		k, err := strconv.Atoi(nth)
		if err != nil || k < 1 || k > 5 || strings.HasPrefix(nth, "+") {
			return f.errorf("%q: the number after # must be 1-5", s)
		}
		c.dowKind, c.dowDay, c.dowNth = dowNth, d, k
		return nil
	case strings.HasSuffix(s, "L"):
		day := strings.TrimSuffix(s, "L")
		if strings.ContainsAny(day, ",-*/?L#") {
			return f.errorf("%q: L takes a single day, like 6L (the last Friday)", s)
		}
		d, err := f.value(day)
		if err != nil {
			return err
		}
		c.dowKind, c.dowDay = dowLast, d
		return nil
	}
	b, err := f.list(s, false)
	if err != nil {
		return err
	}
	c.dowKind, c.dow = dowSet, b
	return nil
}

// dayMatches reports whether the cron's day fields select y-mo-d, where
// last is the month's last day.
func (c *cronSpec) dayMatches(y int, mo time.Month, d, last int) bool {
	switch c.domKind {
	case domSet:
		return c.dom.has(d)
	case domLast:
		return d == last
	case domWeekday:
		return d == nearestWeekday(y, mo, c.domDay, last)
	}
	dow := int(time.Date(y, mo, d, 0, 0, 0, 0, time.UTC).Weekday()) + 1 // 1 = SUN
	switch c.dowKind {
	case dowSet:
		return c.dow.has(dow)
	case dowLast:
		return dow == c.dowDay && d+7 > last
	case dowNth:
		return dow == c.dowDay && (d-1)/7+1 == c.dowNth
	}
	return false
}

// nearestWeekday is the weekday (Monday to Friday) nearest to day n of the
// month, never leaving the month: Saturday the 1st moves to Monday the 3rd,
// Sunday the last day to Friday. It is 0 (no day) when the month has no
// day n, so 31W does not fire in 30-day months, as 31 would not.
func nearestWeekday(y int, mo time.Month, n, last int) int {
	if n > last {
		return 0
	}
	switch time.Date(y, mo, n, 0, 0, 0, 0, time.UTC).Weekday() {
	case time.Saturday:
		if n == 1 {
			return 3
		}
		return n - 1
	case time.Sunday:
		if n == last {
			return n - 2
		}
		return n + 1
	}
	return n
}

func cronDaysIn(y int, mo time.Month) int {
	return time.Date(y, mo+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// next is the first minute strictly after after that the cron selects.
func (c *cronSpec) next(after time.Time) time.Time {
	t := after.UTC().Truncate(time.Minute).Add(time.Minute)
	if t.Year() < fieldYear.min {
		t = time.Date(fieldYear.min, time.January, 1, 0, 0, 0, 0, time.UTC)
	}
	for y := t.Year(); y <= fieldYear.max; y++ {
		if !c.years.has(y - fieldYear.offset) {
			continue
		}
		sameYear := y == t.Year()
		for mo := time.January; mo <= time.December; mo++ {
			if !c.months.has(int(mo)) || sameYear && mo < t.Month() {
				continue
			}
			sameMonth := sameYear && mo == t.Month()
			last := cronDaysIn(y, mo)
			for d := 1; d <= last; d++ {
				if sameMonth && d < t.Day() || !c.dayMatches(y, mo, d, last) {
					continue
				}
				sameDay := sameMonth && d == t.Day()
				for h := 0; h < 24; h++ {
					if !c.hours.has(h) || sameDay && h < t.Hour() {
						continue
					}
					sameHour := sameDay && h == t.Hour()
					for m := 0; m < 60; m++ {
						if c.minutes.has(m) && !(sameHour && m < t.Minute()) {
							return time.Date(y, mo, d, h, m, 0, 0, time.UTC)
						}
					}
				}
			}
		}
	}
	return time.Time{}
}
