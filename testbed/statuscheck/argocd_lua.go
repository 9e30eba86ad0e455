package main

// Argo CD's health check, run the way argo-cd's util/lua runs a health.lua (VM.runLua and
// VM.ExecuteHealthLua in argo-cd v3.6), on the same Lua interpreter, github.com/yuin/gopher-lua, at the
// version argo-cd v3.6.1 pins.
//
// Why not argo-cd's util/lua package itself: it was tried (github.com/argoproj/argo-cd/v3 v3.6.1 with its
// replace block, go1.27.3). Importing it compiles about 1,470 packages (Argo CD's API types pull in client-go,
// kubectl, kustomize, go-git, the Azure SDK, gRPC, ...), against about 900 for this whole program. Its cold
// build, tried once with a 15-minute box on the 2-core machine, did not finish in the 13 minutes left (5.5
// minutes of CPU spent, other builds sharing the cores); the whole CI must stay under 90 minutes, and the
// control plane and helm builds already take their share. What util/lua does around gopher-lua is small
// and is mirrored here (its 1 s timeout, libraries and status validation):
//
//   - a new LState per run, the standard libraries skipped unless useOpenLibs; then the package, base and
//     table libraries opened, and a reduced os library (time and date only) both as the global `os` and for
//     require("os");
//   - a 1 second timeout through the LState's context;
//   - the object passed as the global `obj`, converted as util/lua's decodeValue does (maps and lists become
//     tables, numbers numbers, json.Number a string, null and anything else nil);
//   - the returned value must be a table; it is encoded to JSON with layeh.com/gopher-json (as util/lua does)
//     and read as gitops-engine's HealthStatus {status, message}; a status outside Healthy, Progressing,
//     Degraded, Suspended, Missing, Unknown becomes Unknown "Lua returned an invalid health status".

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	luajson "layeh.com/gopher-json"
	"sigs.k8s.io/yaml"
)

const (
	luaTimeout          = 1 * time.Second
	invalidHealthStatus = "Lua returned an invalid health status"
)

// gitops-engine's HealthStatusCode values.
var validHealthStatuses = map[string]bool{
	"Healthy": true, "Progressing": true, "Degraded": true, "Suspended": true, "Missing": true, "Unknown": true,
}

// healthStatus is gitops-engine's health.HealthStatus as JSON.
type healthStatus struct {
	Status  string `json:"status,omitempty"`
	Message string `json:"message,omitempty"`
}

func argoCDHealth(obj *unstructured.Unstructured, script string, openLibs bool) Verdict {
	status, err := executeHealthLua(obj.Object, script, openLibs)
	if err != nil {
		return Verdict{Error: err.Error()}
	}
	return Verdict{Status: status.Status, Message: status.Message}
}

func executeHealthLua(obj map[string]any, script string, openLibs bool) (*healthStatus, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: !openLibs})
	defer l.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.OsLibName, openReducedOs},
	} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.open), NRet: 0, Protect: true},
			lua.LString(lib.name)); err != nil {
			return nil, err
		}
	}
	l.PreloadModule(lua.OsLibName, loadReducedOs)

	ctx, cancel := context.WithTimeout(context.Background(), luaTimeout)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", toLua(l, obj))
	if err := l.DoString(script); err != nil {
		return nil, err
	}
	returned := l.Get(-1)
	if returned.Type() != lua.LTTable {
		return nil, fmt.Errorf("expect table output from Lua script, not %s", returned.Type().String())
	}
	encoded, err := luajson.Encode(returned)
	if err != nil {
		return nil, err
	}
	status := &healthStatus{}
	if err := json.Unmarshal(encoded, status); err != nil {
		return nil, err
	}
	if !validHealthStatuses[status.Status] {
		return &healthStatus{Status: "Unknown", Message: invalidHealthStatus}, nil
	}
	return status, nil
}

// toLua converts a decoded object the way util/lua's decodeValue does.
func toLua(l *lua.LState, value any) lua.LValue {
	switch v := value.(type) {
	case bool:
		return lua.LBool(v)
	case float64:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case int32:
		return lua.LNumber(v)
	case int:
		return lua.LNumber(v)
	case string:
		return lua.LString(v)
	case json.Number:
		return lua.LString(v)
	case []any:
		table := l.CreateTable(len(v), 0)
		for _, item := range v {
			table.Append(toLua(l, item))
		}
		return table
	case map[string]any:
		table := l.CreateTable(0, len(v))
		for key, item := range v {
			table.RawSetH(lua.LString(key), toLua(l, item))
		}
		return table
	}
	return lua.LNil
}

// The reduced os library Argo CD gives scripts: os.time and os.date only, nothing that touches the system.
var reducedOsFunctions = map[string]lua.LGFunction{"time": osTime, "date": osDate}

func openReducedOs(l *lua.LState) int {
	l.Push(l.RegisterModule(lua.OsLibName, reducedOsFunctions))
	return 1
}

func loadReducedOs(l *lua.LState) int {
	l.Push(l.SetFuncs(l.NewTable(), reducedOsFunctions))
	return 1
}

// os.time([table]): seconds since the epoch, now or of the date in the table (Lua 5.1's defaults).
func osTime(l *lua.LState) int {
	if l.GetTop() == 0 {
		l.Push(lua.LNumber(time.Now().Unix()))
		return 1
	}
	table := l.CheckTable(1)
	field := func(name string, fallback int) int {
		if n, ok := table.RawGetString(name).(lua.LNumber); ok {
			return int(n)
		}
		return fallback
	}
	t := time.Date(field("year", -1), time.Month(field("month", -1)), field("day", -1),
		field("hour", 12), field("min", 0), field("sec", 0), 0, time.Local)
	l.Push(lua.LNumber(t.Unix()))
	return 1
}

// os.date([format [, time]]): "!" for UTC, "*t" for a table, else a strftime subset.
func osDate(l *lua.LState) int {
	format := l.OptString(1, "%c")
	t := time.Now()
	if l.GetTop() >= 2 {
		t = time.Unix(l.CheckInt64(2), 0)
	}
	if strings.HasPrefix(format, "!") {
		t = t.UTC()
		format = format[1:]
	}
	if format == "*t" {
		table := l.NewTable()
		for name, value := range map[string]int{
			"year": t.Year(), "month": int(t.Month()), "day": t.Day(), "hour": t.Hour(), "min": t.Minute(),
			"sec": t.Second(), "wday": int(t.Weekday()) + 1, "yday": t.YearDay(),
		} {
			table.RawSetString(name, lua.LNumber(value))
		}
		table.RawSetString("isdst", lua.LFalse)
		l.Push(table)
		return 1
	}
	l.Push(lua.LString(strftime(t, format)))
	return 1
}

func strftime(t time.Time, format string) string {
	layouts := map[byte]string{
		'Y': "2006", 'y': "06", 'm': "01", 'd': "02", 'H': "15", 'I': "03", 'M': "04", 'S': "05", 'p': "PM",
		'b': "Jan", 'B': "January", 'a': "Mon", 'A': "Monday", 'Z': "MST", 'c': "Mon Jan  2 15:04:05 2006",
		'x': "01/02/06", 'X': "15:04:05",
	}
	var out strings.Builder
	for i := 0; i < len(format); i++ {
		if format[i] != '%' || i+1 == len(format) {
			out.WriteByte(format[i])
			continue
		}
		i++
		if layout, ok := layouts[format[i]]; ok {
			out.WriteString(t.Format(layout))
		} else {
			out.WriteByte(format[i]) // "%%" and unknown conversions: the character itself
		}
	}
	return out.String()
}

// --- health_test.yaml, as argo-cd's TestLuaHealthScript checks it ---------------------------------------------

type healthTestCase struct {
	InputPath    string       `json:"inputPath"`
	HealthStatus healthStatus `json:"healthStatus"`
}

// CaseResult is the line printed per case of health_test.yaml.
type CaseResult struct {
	InputPath string        `json:"inputPath"`
	Expected  healthStatus  `json:"expected"`
	Actual    *healthStatus `json:"actual,omitempty"`
	Error     string        `json:"error,omitempty"`
	Equal     bool          `json:"equal"`
}

// runHealthTest reads dir/health_test.yaml and, for every case, the object at its inputPath (decoded with
// sigs.k8s.io/yaml into a map, as the upstream test's getObj does), runs dir/health.lua on it and compares
// the whole HealthStatus, as the upstream test's assert.Equal does.
func runHealthTest(dir string, openLibs bool, out *os.File) (bool, error) {
	script, err := os.ReadFile(filepath.Join(dir, "health.lua"))
	if err != nil {
		return false, err
	}
	data, err := os.ReadFile(filepath.Join(dir, "health_test.yaml"))
	if err != nil {
		return false, err
	}
	var suite struct {
		Tests []healthTestCase `json:"tests"`
	}
	if err := yaml.Unmarshal(data, &suite); err != nil {
		return false, err
	}
	if len(suite.Tests) == 0 {
		return false, fmt.Errorf("%s/health_test.yaml has no tests", dir)
	}
	encoder := json.NewEncoder(out)
	allEqual := true
	for _, test := range suite.Tests {
		result := CaseResult{InputPath: test.InputPath, Expected: test.HealthStatus}
		objData, err := os.ReadFile(filepath.Join(dir, test.InputPath))
		obj := map[string]any{}
		if err == nil {
			err = yaml.Unmarshal(objData, &obj)
		}
		if err == nil {
			result.Actual, err = executeHealthLua(obj, string(script), openLibs)
		}
		if err != nil {
			result.Error = err.Error()
		}
		result.Equal = err == nil && reflect.DeepEqual(*result.Actual, test.HealthStatus)
		allEqual = allEqual && result.Equal
		if err := encoder.Encode(result); err != nil {
			return false, err
		}
	}
	return allEqual, nil
}
