package events

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
)

func utc(y int, mo time.Month, d, h, m int) time.Time {
	return time.Date(y, mo, d, h, m, 0, 0, time.UTC)
}

// The valid examples of the EventBridge rate and cron references.
var validSchedules = []string{
	"rate(1 minute)", "rate(5 minutes)", "rate(1 hour)", "rate(2 hours)", "rate(1 day)", "rate(7 days)",
	"cron(0 10 * * ? *)",
	"cron(15 12 * * ? *)",
	"cron(0 18 ? * MON-FRI *)",
	"cron(0 8 1 * ? *)",
	"cron(0/15 * * * ? *)",
	"cron(0/10 * ? * MON-FRI *)",
	"cron(0/5 8-17 ? * MON-FRI *)",
	"cron(0 9 ? * 2#1 *)",
	"cron(0 0 L * ? *)",
	"cron(0 0 ? * 6L *)",
	"cron(0 0 15W * ? *)",
	"cron(0 12 * * ? *)",
	"cron(0 20 * * ? *)",
	"cron(0 0 1 1 ? 2030)",
	"cron(30 14 10,20 * ? 2026-2030)",
	"cron(1/10 * * * ? *)",
	"cron(*/5 * * * ? *)",
	"cron(0 0 ? * L *)",
	"cron(0 0 ? * FRIL *)",
	"cron(0 0 ? * sun,sat *)",
	"cron(0 0 1 jan-mar/2 ? *)",
	"cron(0 0 * * ? 2020/5)",
}

func TestParseScheduleValid(t *testing.T) {
	for _, expr := range validSchedules {
		s, err := ParseSchedule(expr)
		if err != nil {
			t.Errorf("ParseSchedule(%q): %v", expr, err)
			continue
		}
		if s.String() != expr {
			t.Errorf("ParseSchedule(%q).String() = %q", expr, s.String())
		}
	}
}

func TestParseScheduleInvalid(t *testing.T) {
	for _, c := range []struct{ expr, want string }{
		// rate: a positive integer, singular for 1 and plural otherwise.
		{"rate(1 minutes)", "rate(1 minutes): unit must be singular for a value of 1: rate(1 minute)"},
		{"rate(5 minute)", "rate(5 minute): unit must be plural for a value above 1: rate(5 minutes)"},
		{"rate(1 hours)", "unit must be singular"},
		{"rate(5 hour)", "unit must be plural"},
		{"rate(0 minutes)", `value "0" is not a positive integer`},
		{"rate(-1 minutes)", `value "-1" is not a positive integer`},
		{"rate(1.5 hours)", `value "1.5" is not a positive integer`},
		{"rate(30 seconds)", `unit "seconds" is not one of minute, minutes, hour, hours, day, days`},
		{"rate(2 weeks)", `unit "weeks"`},
		{"rate(5minutes)", "want rate(value unit)"},
		{"rate()", "want rate(value unit)"},
		{"rate(99999999999999 days)", "too large"},
		// cron: the day fields.
		{"cron(0 12 * * * *)", "cron(0 12 * * * *): day-of-month and day-of-week cannot both be specified; use ? in one"},
		{"cron(0 12 1 * MON *)", "day-of-month and day-of-week cannot both be specified; use ? in one"},
		{"cron(0 12 ? * ? *)", "day-of-month and day-of-week cannot both be ?"},
		// cron: shape and ranges, each naming the field and the value.
		{"cron(0 12 * * ?)", "want 6 fields"},
		{"cron(0 12 * * ? * *)", "got 7"},
		{"cron(60 12 * * ? *)", "minutes: 60 is out of range 0-59"},
		{"cron(0 24 * * ? *)", "hours: 24 is out of range 0-23"},
		{"cron(0 0 32 * ? *)", "day-of-month: 32 is out of range 1-31"},
		{"cron(0 0 0 * ? *)", "day-of-month: 0 is out of range 1-31"},
		{"cron(0 0 * 13 ? *)", "month: 13 is out of range 1-12 or JAN-DEC"},
		{"cron(0 0 * FOO ? *)", `month: "FOO" is not a valid value (want 1-12 or JAN-DEC)`},
		{"cron(0 0 ? * 0 *)", "day-of-week: 0 is out of range 1-7 or SUN-SAT"},
		{"cron(0 0 ? * 8 *)", "day-of-week: 8 is out of range 1-7 or SUN-SAT"},
		{"cron(0 0 * * ? 1969)", "year: 1969 is out of range 1970-2199"},
		{"cron(0 0 * * ? 2200)", "year: 2200 is out of range 1970-2199"},
		{"cron(0 0 5-1 * ? *)", `day-of-month: range "5-1" runs backwards`},
		{"cron(0/0 * * * ? *)", `minutes: "0/0": the increment after / must be an integer from 1 to 59`},
		{"cron(0 0 1,,2 * ? *)", `day-of-month: empty item in "1,,2"`},
		{"cron(x 0 * * ? *)", `minutes: "X" is not a valid value (want 0-59)`},
		// cron: ? L W # only where and as the reference allows.
		{"cron(0 ? * * ? *)", `hours: "?": only , - * / are allowed in hours`},
		{"cron(L 0 * * ? *)", `minutes: "L": only , - * / are allowed in minutes`},
		{"cron(0 0 ? * 3#1,6#3 *)", `day-of-week: "3#1,6#3": # allows one expression only`},
		{"cron(0 0 ? * 2#6 *)", `day-of-week: "2#6": the number after # must be 1-5`},
		{"cron(0 0 ? * 2#0 *)", `the number after # must be 1-5`},
		{"cron(0 0 ? * 9#1 *)", "day-of-week: 9 is out of range"},
		{"cron(0 0 1,15W * ? *)", `day-of-month: "1,15W": W takes a single day, like 15W`},
		{"cron(0 0 32W * ? *)", "day-of-month: 32 is out of range 1-31"},
		{"cron(0 0 L,15 * ? *)", `day-of-month: "L": ? and L must stand alone in day-of-month`},
		{"cron(0 0 3#2 * ? *)", `day-of-month: "3#2"`},
		{"cron(0 0 ? * 2,6L *)", `day-of-week: "2,6L": L takes a single day`},
		{"cron(0 0 ? * 5W *)", `day-of-week: "5W"`},
		{"cron(0 0 ? * MON/2 *)", `day-of-week: "MON/2": / is not allowed in day-of-week`},
		// Neither rate nor cron.
		{"", "want rate(value unit) or cron("},
		{"every 5 minutes", "want rate(value unit) or cron("},
		{"rate(5 minutes", "want rate(value unit) or cron("},
		{"at(2024-01-01T00:00:00)", "want rate(value unit) or cron("},
	} {
		s, err := ParseSchedule(c.expr)
		if err == nil {
			t.Errorf("ParseSchedule(%q) = %v, want an error containing %q", c.expr, s, c.want)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseSchedule(%q) error %q, want it to contain %q", c.expr, err, c.want)
		}
		if c.expr != "" && !strings.Contains(err.Error(), c.expr) {
			t.Errorf("ParseSchedule(%q) error %q does not quote the expression", c.expr, err)
		}
	}
}

func TestScheduleNext(t *testing.T) {
	// Calendar facts the cases rely on: 2024-01-01 is a Monday, 2024 is a
	// leap year, 2024-06-01 is a Saturday, 2024-06-15 a Saturday,
	// 2024-09-15 a Sunday, 2024-03-31 a Sunday, 2024-05-31 a Friday.
	for _, c := range []struct {
		expr        string
		after, want time.Time
	}{
		// The AWS reference examples.
		{"cron(0 10 * * ? *)", utc(2024, 1, 15, 12, 0), utc(2024, 1, 16, 10, 0)},
		{"cron(0 10 * * ? *)", time.Date(2024, 1, 15, 9, 59, 59, 999, time.UTC), utc(2024, 1, 15, 10, 0)},
		{"cron(0 10 * * ? *)", utc(2024, 1, 15, 10, 0), utc(2024, 1, 16, 10, 0)}, // strictly after
		{"cron(0 10 * * ? *)", time.Date(2024, 1, 15, 11, 0, 0, 0, time.FixedZone("CEST", 2*3600)), utc(2024, 1, 15, 10, 0)},
		{"cron(15 12 * * ? *)", utc(2024, 12, 31, 12, 15), utc(2025, 1, 1, 12, 15)},
		{"cron(0 18 ? * MON-FRI *)", utc(2024, 1, 19, 18, 0), utc(2024, 1, 22, 18, 0)}, // Friday to Monday
		{"cron(0 8 1 * ? *)", utc(2024, 1, 31, 23, 59), utc(2024, 2, 1, 8, 0)},
		{"cron(0/15 * * * ? *)", time.Date(2024, 1, 15, 12, 46, 10, 0, time.UTC), utc(2024, 1, 15, 13, 0)},
		{"cron(0/15 * * * ? *)", utc(2024, 12, 31, 23, 45), utc(2025, 1, 1, 0, 0)},
		{"cron(0/10 * ? * MON-FRI *)", utc(2024, 1, 20, 0, 0), utc(2024, 1, 22, 0, 0)}, // Saturday
		{"cron(0/5 8-17 ? * MON-FRI *)", utc(2024, 1, 22, 17, 54), utc(2024, 1, 22, 17, 55)},
		{"cron(0/5 8-17 ? * MON-FRI *)", utc(2024, 1, 22, 17, 55), utc(2024, 1, 23, 8, 0)},
		{"cron(0 9 ? * 2#1 *)", utc(2024, 1, 1, 8, 0), utc(2024, 1, 1, 9, 0)},
		{"cron(0 9 ? * 2#1 *)", utc(2024, 1, 15, 0, 0), utc(2024, 2, 5, 9, 0)},
		{"cron(0 0 L * ? *)", utc(2024, 2, 1, 0, 0), utc(2024, 2, 29, 0, 0)}, // leap year
		{"cron(0 0 L * ? *)", utc(2023, 2, 1, 0, 0), utc(2023, 2, 28, 0, 0)},
		{"cron(0 0 L * ? *)", utc(2024, 2, 29, 0, 0), utc(2024, 3, 31, 0, 0)},
		{"cron(0 0 L * ? *)", utc(2024, 4, 15, 0, 0), utc(2024, 4, 30, 0, 0)},
		{"cron(0 0 L * ? *)", utc(2024, 12, 31, 0, 0), utc(2025, 1, 31, 0, 0)},
		{"cron(0 0 ? * 6L *)", utc(2024, 1, 15, 0, 0), utc(2024, 1, 26, 0, 0)},
		{"cron(0 0 ? * 6L *)", utc(2024, 1, 26, 0, 0), utc(2024, 2, 23, 0, 0)},
		{"cron(0 0 15W * ? *)", utc(2024, 6, 1, 0, 0), utc(2024, 6, 14, 0, 0)}, // Saturday: Friday before
		{"cron(0 0 15W * ? *)", utc(2024, 9, 1, 0, 0), utc(2024, 9, 16, 0, 0)}, // Sunday: Monday after
		{"cron(0 0 15W * ? *)", utc(2024, 1, 1, 0, 0), utc(2024, 1, 15, 0, 0)}, // a Monday itself
		// W never leaves the month, and skips months without the day.
		{"cron(0 0 1W * ? *)", utc(2024, 5, 31, 0, 0), utc(2024, 6, 3, 0, 0)},
		{"cron(0 0 31W * ? *)", utc(2024, 3, 1, 0, 0), utc(2024, 3, 29, 0, 0)},
		{"cron(0 0 31W * ? *)", utc(2024, 3, 29, 0, 0), utc(2024, 5, 31, 0, 0)},
		// Day-of-week: 1 is Sunday, L alone is Saturday, #5 skips short months.
		{"cron(0 0 ? * 1 *)", utc(2024, 1, 15, 0, 0), utc(2024, 1, 21, 0, 0)},
		{"cron(0 0 ? * SUN *)", utc(2024, 1, 15, 0, 0), utc(2024, 1, 21, 0, 0)},
		{"cron(0 0 ? * L *)", utc(2024, 1, 15, 0, 0), utc(2024, 1, 20, 0, 0)},
		{"cron(0 0 ? * 2#5 *)", utc(2024, 1, 1, 0, 0), utc(2024, 1, 29, 0, 0)},
		{"cron(0 0 ? * 2#5 *)", utc(2024, 1, 29, 0, 0), utc(2024, 4, 29, 0, 0)},
		// Months, names and steps.
		{"cron(30 6 1 JAN-MAR/2 ? *)", utc(2024, 1, 2, 0, 0), utc(2024, 3, 1, 6, 30)},
		{"cron(0 0 1 JAN ? *)", utc(2024, 6, 1, 0, 0), utc(2025, 1, 1, 0, 0)},
		{"cron(0 0 29 2 ? *)", utc(2024, 3, 1, 0, 0), utc(2028, 2, 29, 0, 0)},
		// The year field, and schedules that never fire again.
		{"cron(0 0 1 1 ? 2030)", utc(2024, 1, 15, 0, 0), utc(2030, 1, 1, 0, 0)},
		{"cron(0 0 1 1 ? 2030)", utc(2030, 1, 1, 0, 0), time.Time{}},
		{"cron(0 12 * * ? 2020)", utc(2024, 1, 15, 0, 0), time.Time{}},
		{"cron(30 14 10,20 * ? 2026-2030)", utc(2030, 12, 20, 14, 30), time.Time{}},
		{"cron(30 14 10,20 * ? 2026-2030)", utc(2024, 1, 15, 0, 0), utc(2026, 1, 10, 14, 30)},
		{"cron(0 0 30 2 ? *)", utc(2024, 1, 15, 0, 0), time.Time{}},
		{"cron(59 23 31 12 ? 2199)", utc(2199, 12, 31, 23, 58), utc(2199, 12, 31, 23, 59)},
		{"cron(59 23 31 12 ? *)", utc(2199, 12, 31, 23, 59), time.Time{}},
		{"cron(0 0 1 1 ? *)", time.Time{}, utc(1970, 1, 1, 0, 0)},
		// Rate: every interval from the time given.
		{"rate(1 minute)", time.Date(2024, 1, 15, 12, 0, 30, 0, time.UTC), time.Date(2024, 1, 15, 12, 1, 30, 0, time.UTC)},
		{"rate(5 minutes)", utc(2024, 1, 15, 12, 0), utc(2024, 1, 15, 12, 5)},
		{"rate(2 hours)", utc(2024, 1, 15, 23, 0), utc(2024, 1, 16, 1, 0)},
		{"rate(1 day)", utc(2024, 2, 28, 12, 0), utc(2024, 2, 29, 12, 0)},
		{"rate(1 hour)", time.Date(2024, 1, 15, 14, 0, 0, 0, time.FixedZone("CEST", 2*3600)), utc(2024, 1, 15, 13, 0)},
	} {
		s, err := ParseSchedule(c.expr)
		if err != nil {
			t.Errorf("ParseSchedule(%q): %v", c.expr, err)
			continue
		}
		got := s.Next(c.after)
		if !got.Equal(c.want) || got.Location() != time.UTC {
			t.Errorf("%s.Next(%s) = %s, want %s", c.expr, c.after.Format(time.RFC3339Nano), got.Format(time.RFC3339), c.want.Format(time.RFC3339))
		}
	}
}

func TestScheduleInterval(t *testing.T) {
	for expr, want := range map[string]time.Duration{
		"rate(1 minute)": time.Minute, "rate(90 minutes)": 90 * time.Minute, "rate(1 hour)": time.Hour,
		"rate(3 days)": 72 * time.Hour, "cron(0 10 * * ? *)": 0,
	} {
		s, err := ParseSchedule(expr)
		if err != nil {
			t.Fatal(err)
		}
		if s.Interval() != want {
			t.Errorf("%s.Interval() = %v, want %v", expr, s.Interval(), want)
		}
	}
}

// A cron schedule's firings, fed back into Next, walk the calendar without
// skipping or repeating: every minute of the 15th at 10:xx of each month.
func TestScheduleNextSequence(t *testing.T) {
	s, err := ParseSchedule("cron(0/20 10 15 * ? 2024)")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for at := utc(2024, 1, 1, 0, 0); ; {
		at = s.Next(at)
		if at.IsZero() {
			break
		}
		got = append(got, at.Format("01-02T15:04"))
	}
	if len(got) != 36 || got[0] != "01-15T10:00" || got[1] != "01-15T10:20" || got[2] != "01-15T10:40" || got[3] != "02-15T10:00" || got[35] != "12-15T10:40" {
		t.Errorf("firings = %v", got)
	}
}

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestScheduledEvent(t *testing.T) {
	at := time.Date(2024, 1, 15, 14, 30, 5, 123456789, time.FixedZone("CEST", 2*3600))
	data, err := ScheduledEvent("hello-schedule-1", "eu-west-1", "123456789012", at)
	if err != nil {
		t.Fatal(err)
	}
	var ev lambdaevents.EventBridgeEvent
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ev); err != nil {
		t.Fatalf("%s: %v", data, err)
	}
	if ev.Version != "0" || ev.DetailType != "Scheduled Event" || ev.Source != "aws.events" ||
		ev.AccountID != "123456789012" || ev.Region != "eu-west-1" || string(ev.Detail) != "{}" {
		t.Errorf("event = %+v", ev)
	}
	if !uuidV4.MatchString(ev.ID) {
		t.Errorf("id %q is not a version 4 UUID", ev.ID)
	}
	if len(ev.Resources) != 1 || ev.Resources[0] != "arn:aws:events:eu-west-1:123456789012:rule/hello-schedule-1" {
		t.Errorf("resources = %q", ev.Resources)
	}
	if !ev.Time.Equal(time.Date(2024, 1, 15, 12, 30, 5, 0, time.UTC)) {
		t.Errorf("time = %v", ev.Time)
	}

	// The wire form: every key EventBridge sends, time in UTC to the second.
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"} {
		if _, ok := raw[key]; !ok {
			t.Errorf("payload has no %q: %s", key, data)
		}
	}
	if len(raw) != 9 {
		t.Errorf("payload has %d keys, want 9: %s", len(raw), data)
	}
	if string(raw["time"]) != `"2024-01-15T12:30:05Z"` {
		t.Errorf("time = %s, want \"2024-01-15T12:30:05Z\"", raw["time"])
	}

	// Each delivery has its own id.
	again, err := ScheduledEvent("hello-schedule-1", "eu-west-1", "123456789012", at)
	if err != nil {
		t.Fatal(err)
	}
	var ev2 lambdaevents.EventBridgeEvent
	if err := json.Unmarshal(again, &ev2); err != nil {
		t.Fatal(err)
	}
	if ev2.ID == ev.ID {
		t.Errorf("two events share the id %s", ev.ID)
	}
}

func TestScheduledEventPartitionAndErrors(t *testing.T) {
	data, err := ScheduledEvent("r", "cn-north-1", "123456789012", time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte(`"arn:aws-cn:events:cn-north-1:123456789012:rule/r"`)) {
		t.Errorf("China region ARN: %s", data)
	}
	for _, args := range [][3]string{{"", "us-east-1", "123456789012"}, {"r", "", "123456789012"}, {"r", "us-east-1", ""}} {
		if _, err := ScheduledEvent(args[0], args[1], args[2], time.Now()); err == nil {
			t.Errorf("ScheduledEvent(%q) succeeded", args)
		}
	}
}
