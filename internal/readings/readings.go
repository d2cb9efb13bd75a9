// Package readings reads the newest points of the stack's measurements
// back from InfluxDB (InfluxQL, through the 1.x client), for the bot's
// answers and digest. It only reads: the bot's InfluxDB user has READ on
// the database and nothing else.
package readings

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	client "github.com/influxdata/influxdb1-client/v2"
)

// Point is one row of a result: its time, the series' tags and every
// other column (fields, and tags not grouped by) by name.
type Point struct {
	Time   time.Time
	Tags   map[string]string
	Fields map[string]any
}

// Tag returns a tag, or a column of that name holding a string.
func (p Point) Tag(k string) string {
	if v, ok := p.Tags[k]; ok {
		return v
	}
	s, _ := p.Fields[k].(string)
	return s
}

// Str returns a string column.
func (p Point) Str(k string) (string, bool) {
	s, ok := p.Fields[k].(string)
	return s, ok
}

// Float returns a numeric column.
func (p Point) Float(k string) (float64, bool) {
	switch v := p.Fields[k].(type) {
	case json.Number:
		f, err := v.Float64()
		return f, err == nil
	case float64:
		return v, true
	case int64:
		return float64(v), true
	}
	return 0, false
}

// Int returns an integer column (a float is truncated).
func (p Point) Int(k string) (int64, bool) {
	switch v := p.Fields[k].(type) {
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i, true
		}
		f, err := v.Float64()
		return int64(f), err == nil
	case float64:
		return int64(v), true
	case int64:
		return v, true
	}
	return 0, false
}

// Querier runs InfluxQL; *Reader is one, tests may give another.
type Querier interface {
	Query(ctx context.Context, q string) ([]Point, error)
}

// Reader queries one database over InfluxDB's HTTP API.
type Reader struct {
	Client   client.Client
	Database string
}

// New connects to InfluxDB at url (nothing is sent until a query).
func New(url, user, password, database string) (*Reader, error) {
	c, err := client.NewHTTPClient(client.HTTPConfig{Addr: url, Username: user, Password: password, Timeout: 15 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("InfluxDB at %s: %w", url, err)
	}
	return &Reader{Client: c, Database: database}, nil
}

// Query runs q and flattens every series of every statement into points,
// newest-first order kept as the query gave it.
func (r *Reader) Query(ctx context.Context, q string) ([]Point, error) {
	type result struct {
		resp *client.Response
		err  error
	}
	done := make(chan result, 1)
	go func() {
		// Times as integer nanoseconds (epoch=ns).
		resp, err := r.Client.Query(client.NewQuery(q, r.Database, "ns"))
		done <- result{resp, err}
	}()
	var res result
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case res = <-done:
	}
	if res.err != nil {
		return nil, fmt.Errorf("InfluxDB: %w", res.err)
	}
	if err := res.resp.Error(); err != nil {
		return nil, fmt.Errorf("InfluxDB: %w", err)
	}
	var out []Point
	for _, st := range res.resp.Results {
		for _, s := range st.Series {
			for _, row := range s.Values {
				p := Point{Tags: s.Tags, Fields: map[string]any{}}
				for i, col := range s.Columns {
					if i >= len(row) || row[i] == nil {
						continue
					}
					if col == "time" {
						switch ts := row[i].(type) {
						case json.Number:
							if ns, err := ts.Int64(); err == nil {
								p.Time = time.Unix(0, ns).UTC()
							}
						case string:
							p.Time, _ = time.Parse(time.RFC3339Nano, ts)
						}
						continue
					}
					p.Fields[col] = row[i]
				}
				out = append(out, p)
			}
		}
	}
	return out, nil
}

// Identified drops the points whose idTag is empty (an input that could
// not read the node before it ever could, so it wrote no ID) unless such a
// point is newer than every identified one: then the input can't read the
// node now, and that must show.
// Points are compared within the same value of each of the `within` tags
// (e.g. host: another host's nodes say nothing of this one's).
func Identified(pts []Point, idTag string, within ...string) []Point {
	key := func(p Point) string {
		var k []string
		for _, w := range within {
			k = append(k, p.Tag(w))
		}
		return strings.Join(k, "\x00")
	}
	newestID := map[string]time.Time{}
	for _, p := range pts {
		if p.Tag(idTag) != "" && p.Time.After(newestID[key(p)]) {
			newestID[key(p)] = p.Time
		}
	}
	out := pts[:0:0]
	for _, p := range pts {
		// Not older than the newest identified point: at the same gather,
		// the unidentified one is the news.
		if p.Tag(idTag) != "" || !p.Time.Before(newestID[key(p)]) {
			out = append(out, p)
		}
	}
	return out
}

// Newest returns the newest point of each series of measurement grouped by
// the tags given, from the last `within`, with an optional extra WHERE
// condition. Points are sorted by the group tags.
func Newest(ctx context.Context, q Querier, measurement string, within time.Duration, where string, groupBy ...string) ([]Point, error) {
	cond := fmt.Sprintf("time > now() - %ds", int64(within/time.Second))
	if where != "" {
		cond += " AND (" + where + ")"
	}
	stmt := fmt.Sprintf("SELECT * FROM %s WHERE %s", strconv.Quote(measurement), cond)
	if len(groupBy) > 0 {
		stmt += " GROUP BY "
		for i, g := range groupBy {
			if i > 0 {
				stmt += ", "
			}
			stmt += strconv.Quote(g)
		}
	}
	stmt += " ORDER BY time DESC LIMIT 1"
	pts, err := q.Query(ctx, stmt)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(pts, func(i, j int) bool {
		for _, g := range groupBy {
			if a, b := pts[i].Tag(g), pts[j].Tag(g); a != b {
				return a < b
			}
		}
		return false
	})
	return pts, nil
}
