package events

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// NCronSchedule is an Azure Functions timer trigger schedule: a 6-field
// NCRONTAB expression {second} {minute} {hour} {day} {month} {day-of-week},
// evaluated in a time zone (UTC unless WEBSITE_TIME_ZONE says otherwise).
//
// Azure parses these with NCrontab (Atif Aziz's library), whose dialect
// differs from the Go cron packages in ways that change firing times: a
// day must match both the day-of-month and the day-of-week fields (Vixie
// cron and robfig/cron fire when either matches), day-of-week is 0-7 with
// both 0 and 7 meaning Sunday, and there are no ? L W # wildcards. Hence a
// parser of our own, sharing the field grammar of the EventBridge one.
type NCronSchedule struct {
	expr                                  string
	loc                                   *time.Location
	seconds, minutes, hours, days, months cronBits
	dows                                  cronBits // 0 = Sunday
}

var (
	nfieldSeconds = cronField{name: "second", min: 0, max: 59}
	nfieldMinutes = cronField{name: "minute", min: 0, max: 59}
	nfieldHours   = cronField{name: "hour", min: 0, max: 23}
	nfieldDays    = cronField{name: "day", min: 1, max: 31}
	nfieldMonths  = cronField{name: "month", min: 1, max: 12, names: fieldMonth.names}
	nfieldDows    = cronField{name: "day-of-week", min: 0, max: 7, names: []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}}
)

var appSettingRE = regexp.MustCompile(`^%([A-Za-z0-9_.:-]+)%$`)

// ParseNCronSchedule parses a timerTrigger schedule for the time zone loc
// (nil means UTC). As in Azure, a schedule written %NAME% is read from the
// app setting (environment variable) NAME. Errors name the field.
func ParseNCronSchedule(expr string, loc *time.Location) (*NCronSchedule, error) {
	if loc == nil {
		loc = time.UTC
	}
	orig := expr
	if m := appSettingRE.FindStringSubmatch(expr); m != nil {
		v, ok := os.LookupEnv(m[1])
		if !ok {
			return nil, fmt.Errorf("schedule %s: app setting %s is not set", orig, m[1])
		}
		expr = v
	}
	fields := strings.Fields(strings.ToUpper(expr))
	if len(fields) != 6 {
		hint := ""
		if len(fields) == 5 {
			hint = " (Azure's NCRONTAB starts with a seconds field: 0 " + strings.TrimSpace(expr) + ")"
		}
		return nil, fmt.Errorf("schedule %q: want 6 fields {second} {minute} {hour} {day} {month} {day-of-week}, got %d%s", orig, len(fields), hint)
	}
	s := &NCronSchedule{expr: orig, loc: loc}
	for i, f := range []struct {
		field cronField
		bits  *cronBits
	}{{nfieldSeconds, &s.seconds}, {nfieldMinutes, &s.minutes}, {nfieldHours, &s.hours}, {nfieldDays, &s.days}, {nfieldMonths, &s.months}, {nfieldDows, &s.dows}} {
		b, err := f.field.list(fields[i], true)
		if err != nil {
			return nil, fmt.Errorf("schedule %q: %w", orig, err)
		}
		*f.bits = b
	}
	if s.dows.has(7) {
		s.dows.set(0)
	}
	if s.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, loc)).IsZero() {
		return nil, fmt.Errorf("schedule %q never fires", orig)
	}
	return s, nil
}

// String returns the expression as written.
func (s *NCronSchedule) String() string { return s.expr }

// Location is the time zone the schedule is evaluated in.
func (s *NCronSchedule) Location() *time.Location { return s.loc }

// Next returns the first second strictly after after that the schedule
// selects, in the schedule's time zone, or the zero time if there is none
// within the next eight years (the 30th of February). A wall-clock time
// that a DST change skips does not occur.
func (s *NCronSchedule) Next(after time.Time) time.Time {
	loc := s.loc
	t := after.In(loc).Truncate(time.Second).Add(time.Second)
	limit := t.AddDate(8, 0, 0)
	for t.Before(limit) {
		y, mo, d := t.Date()
		h, mi, sec := t.Clock()
		var next time.Time
		switch {
		case !s.months.has(int(mo)):
			next = time.Date(y, mo+1, 1, 0, 0, 0, 0, loc)
		case !s.days.has(d) || !s.dows.has(int(t.Weekday())):
			next = time.Date(y, mo, d+1, 0, 0, 0, 0, loc)
		case !s.hours.has(h):
			next = time.Date(y, mo, d, h+1, 0, 0, 0, loc)
		case !s.minutes.has(mi):
			next = time.Date(y, mo, d, h, mi+1, 0, 0, loc)
		case !s.seconds.has(sec):
			next = time.Date(y, mo, d, h, mi, sec+1, 0, loc)
		default:
			return t
		}
		if !next.After(t) { // a DST fold: time.Date went back
			next = t.Add(time.Second)
		}
		t = next
	}
	return time.Time{}
}

// TimeZone returns the time zone Azure Functions evaluates timer
// schedules in: WEBSITE_TIME_ZONE (an IANA name, as on Linux plans, or
// "UTC"), else UTC.
func TimeZone(getenv func(string) string) (*time.Location, error) {
	name := getenv("WEBSITE_TIME_ZONE")
	if name == "" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("WEBSITE_TIME_ZONE=%q: %v (want an IANA time zone name such as Europe/Paris)", name, err)
	}
	return loc, nil
}

// StandardCron returns the schedule as a five-field cron expression for a
// Kubernetes CronJob (evaluated in the schedule's time zone, which the
// CronJob's timeZone must give). Only a schedule whose seconds field is a
// single 0 converts, and not one that restricts both the day and the
// day-of-week, which NCRONTAB requires to match together and cron lets
// match either.
func (s *NCronSchedule) StandardCron() (string, error) {
	var zero cronBits
	zero.set(0)
	if s.seconds != zero {
		return "", fmt.Errorf("schedule %q fires at seconds other than 0; a CronJob's finest unit is the minute, so only a seconds field of 0 converts", s.expr)
	}
	dows := s.dows
	dows[0] &^= 1 << 7 // 7 is Sunday, which 0 already is
	dowField := nfieldDows
	dowField.max = 6
	dom, dow := stepText(s.days, nfieldDays), stepText(dows, dowField)
	if dom != "*" && dow != "*" {
		return "", fmt.Errorf("schedule %q restricts both the day and the day-of-week: NCRONTAB fires when both match, cron when either does", s.expr)
	}
	return strings.Join([]string{stepText(s.minutes, nfieldMinutes), stepText(s.hours, nfieldHours), dom, stepText(s.months, nfieldMonths), dow}, " "), nil
}

// stepText is bitsText, with */n for every n-th value from the field's
// minimum when that is three values or more.
func stepText(b cronBits, f cronField) string {
	for n := 2; n <= (f.max-f.min)/2; n++ {
		var want cronBits
		for v := f.min; v <= f.max; v += n {
			want.set(v - f.offset)
		}
		if want == b {
			return "*/" + strconv.Itoa(n)
		}
	}
	return bitsText(b, f, 0)
}
