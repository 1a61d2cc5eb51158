package events

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// StandardCron returns the schedule as a five-field cron expression
// (minute hour day-of-month month day-of-week, 0 = Sunday) with the
// meaning Kubernetes CronJobs give it, in UTC: what `ferry k8s` writes
// into a CronJob. It fails, saying why, for schedules five fields cannot
// express: years, L, W and #, and rates that do not divide an hour or a
// day evenly (a CronJob's */n restarts every hour and day, so rate(7
// minutes) would drift). A rate fires aligned to the clock (rate(5
// minutes) at :00, :05, …) where EventBridge counts from the rule's
// creation.
func (s *Schedule) StandardCron() (string, error) {
	if s.cron == nil {
		return rateCron(s.expr, s.every)
	}
	c := s.cron
	all := fieldYear.list
	years, _ := all("*", true)
	if c.years != years {
		return "", fmt.Errorf("%s: a Kubernetes CronJob has no year field; use * for the year", s.expr)
	}
	var dom, dow string
	switch c.domKind {
	case domAny:
		dom = "*"
	case domSet:
		dom = bitsText(c.dom, fieldDayOfMonth, 0)
	case domLast:
		return "", fmt.Errorf("%s: L (the last day of the month) has no five-field cron equivalent", s.expr)
	case domWeekday:
		return "", fmt.Errorf("%s: W (the nearest weekday) has no five-field cron equivalent", s.expr)
	}
	switch c.dowKind {
	case dowAny:
		dow = "*"
	case dowSet:
		// EventBridge counts 1 = SUN to 7 = SAT; cron 0 = SUN to 6 = SAT.
		dow = bitsText(c.dow, fieldDayOfWeek, 1)
	case dowLast:
		return "", fmt.Errorf("%s: nL (the last given weekday of the month) has no five-field cron equivalent", s.expr)
	case dowNth:
		return "", fmt.Errorf("%s: # (the n-th weekday of the month) has no five-field cron equivalent", s.expr)
	}
	return strings.Join([]string{
		bitsText(c.minutes, fieldMinutes, 0), bitsText(c.hours, fieldHours, 0), dom,
		bitsText(c.months, fieldMonth, 0), dow,
	}, " "), nil
}

// rateCron writes a rate as the cron that fires at the same period.
func rateCron(expr string, d time.Duration) (string, error) {
	switch {
	case d%time.Minute == 0 && d < time.Hour && time.Hour%d == 0:
		if d == time.Minute {
			return "* * * * *", nil
		}
		return fmt.Sprintf("*/%d * * * *", d/time.Minute), nil
	case d%time.Hour == 0 && d < 24*time.Hour && (24*time.Hour)%d == 0:
		if d == time.Hour {
			return "0 * * * *", nil
		}
		return fmt.Sprintf("0 */%d * * *", d/time.Hour), nil
	case d == 24*time.Hour:
		return "0 0 * * *", nil
	}
	return "", errors.New(expr + ": a Kubernetes CronJob can only repeat at periods that divide an hour (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30 minutes) or a day (1, 2, 3, 4, 6, 8, 12 hours), or daily; write a cron(...) expression instead")
}

// bitsText writes a field's values as * or a list of values and ranges,
// each value less shift.
func bitsText(b cronBits, f cronField, shift int) string {
	full := true
	for v := f.min; v <= f.max; v++ {
		full = full && b.has(v-f.offset)
	}
	if full {
		return "*"
	}
	var parts []string
	for v := f.min; v <= f.max; v++ {
		if !b.has(v - f.offset) {
			continue
		}
		end := v
		for end+1 <= f.max && b.has(end+1-f.offset) {
			end++
		}
		switch {
		case end == v:
			parts = append(parts, strconv.Itoa(v-shift))
		case end == v+1:
			parts = append(parts, strconv.Itoa(v-shift), strconv.Itoa(end-shift))
		default:
			parts = append(parts, strconv.Itoa(v-shift)+"-"+strconv.Itoa(end-shift))
		}
		v = end
	}
	return strings.Join(parts, ",")
}
