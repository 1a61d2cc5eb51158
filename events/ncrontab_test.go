package events

import (
	"strings"
	"testing"
	"time"
)

func TestNCronScheduleNext(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) // a Thursday
	tests := []struct {
		expr string
		loc  *time.Location
		want []time.Time
	}{
		// The examples of the Azure timer trigger reference.
		{"0 */5 * * * *", nil, []time.Time{start.Add(5 * time.Minute), start.Add(10 * time.Minute)}},
		{"0 0 * * * *", nil, []time.Time{start.Add(time.Hour), start.Add(2 * time.Hour)}},
		{"0 0 */2 * * *", nil, []time.Time{start.Add(2 * time.Hour), start.Add(4 * time.Hour)}},
		{"0 0 9-10 * * *", nil, []time.Time{start.Add(9 * time.Hour), start.Add(10 * time.Hour), start.Add(33 * time.Hour)}},
		{"0 30 9 * * *", nil, []time.Time{start.Add(9*time.Hour + 30*time.Minute), start.Add(33*time.Hour + 30*time.Minute)}},
		{"0 30 9 * * 1-5", nil, []time.Time{time.Date(2026, 1, 1, 9, 30, 0, 0, time.UTC), time.Date(2026, 1, 2, 9, 30, 0, 0, time.UTC), time.Date(2026, 1, 5, 9, 30, 0, 0, time.UTC)}},
		{"0 30 9 * Jan Mon", nil, []time.Time{time.Date(2026, 1, 5, 9, 30, 0, 0, time.UTC), time.Date(2026, 1, 12, 9, 30, 0, 0, time.UTC)}},
		{"*/15 * * * * *", nil, []time.Time{start.Add(15 * time.Second), start.Add(30 * time.Second)}},
		// Day and day-of-week are ANDed, as NCrontab does: Friday the 13th.
		{"0 0 0 13 * FRI", nil, []time.Time{time.Date(2026, 2, 13, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 13, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 13, 0, 0, 0, 0, time.UTC)}},
		// 7 is Sunday too.
		{"0 0 12 * * 7", nil, []time.Time{time.Date(2026, 1, 4, 12, 0, 0, 0, time.UTC)}},
		// WEBSITE_TIME_ZONE: 9:00 in Paris is 8:00 UTC in winter, 7:00 in summer.
		{"0 0 9 * * *", paris, []time.Time{time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC), time.Date(2026, 1, 2, 8, 0, 0, 0, time.UTC)}},
		// 2:30 does not exist in Paris on 29 March 2026.
		{"0 30 2 29 3 *", paris, []time.Time{time.Date(2027, 3, 29, 0, 30, 0, 0, time.UTC)}},
	}
	for _, tt := range tests {
		s, err := ParseNCronSchedule(tt.expr, tt.loc)
		if err != nil {
			t.Errorf("%s: %v", tt.expr, err)
			continue
		}
		at := start
		for i, want := range tt.want {
			got := s.Next(at)
			if !got.Equal(want) {
				t.Errorf("%s (%v): firing %d after %v = %v, want %v", tt.expr, s.Location(), i+1, at, got.UTC(), want)
				break
			}
			at = got
		}
	}
}

func TestNCronScheduleErrors(t *testing.T) {
	tests := map[string]string{
		"*/5 * * * *":          "want 6 fields",
		"0 0 9 * * 8":          "day-of-week: 8 is out of range",
		"0 0 9 L * *":          "day: \"L\"",
		"0 0 9 ? * MON":        "day: \"?\"",
		"60 * * * * *":         "second: 60 is out of range",
		"0 0 0 30 2 *":         "never fires",
		"0 0 9 * * * 2026":     "want 6 fields",
		"%MISSING_SCHEDULE_X%": "app setting MISSING_SCHEDULE_X is not set",
	}
	for expr, want := range tests {
		_, err := ParseNCronSchedule(expr, nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want it to say %q", expr, err, want)
		}
	}
	t.Setenv("TIMER_SCHEDULE", "0 0 * * * *")
	if s, err := ParseNCronSchedule("%TIMER_SCHEDULE%", nil); err != nil || !s.Next(time.Time{}.Add(time.Minute)).Equal(time.Time{}.Add(time.Hour)) {
		t.Errorf("%%TIMER_SCHEDULE%%: %v", err)
	}
}

func TestTimeZone(t *testing.T) {
	env := map[string]string{}
	get := func(k string) string { return env[k] }
	if loc, err := TimeZone(get); err != nil || loc != time.UTC {
		t.Errorf("unset: %v, %v", loc, err)
	}
	env["WEBSITE_TIME_ZONE"] = "America/New_York"
	if loc, err := TimeZone(get); err != nil || loc.String() != "America/New_York" {
		t.Errorf("New York: %v, %v", loc, err)
	}
	env["WEBSITE_TIME_ZONE"] = "Mars/Olympus"
	if _, err := TimeZone(get); err == nil || !strings.Contains(err.Error(), "WEBSITE_TIME_ZONE") {
		t.Errorf("bad zone: %v", err)
	}
}

func TestNCronStandardCron(t *testing.T) {
	for _, tt := range []struct{ expr, want, err string }{
		{"0 */5 * * * *", "*/5 * * * *", ""},
		{"0 0 * * * *", "0 * * * *", ""},
		{"0 30 9 * * 1-5", "30 9 * * 1-5", ""},
		{"0 30 9 * * SUN", "30 9 * * 0", ""},
		{"0 30 9 * * 7", "30 9 * * 0", ""},
		{"0 0 0 1 JAN,JUL *", "0 0 1 1,7 *", ""},
		{"0 0 12 * * 0-7", "0 12 * * *", ""},
		{"0 5,20 * * * *", "5,20 * * * *", ""},
		{"*/10 * * * * *", "", "seconds other than 0"},
		{"30 * * * * *", "", "seconds other than 0"},
		{"0,30 * * * * *", "", "seconds other than 0"},
		{"0 0 0 13 * 5", "", "restricts both the day and the day-of-week"},
	} {
		s, err := ParseNCronSchedule(tt.expr, nil)
		if err != nil {
			t.Fatalf("%s: %v", tt.expr, err)
		}
		got, err := s.StandardCron()
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: %q, %v; want an error saying %q", tt.expr, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s: %q, %v; want %q", tt.expr, got, err, tt.want)
		}
	}
}
