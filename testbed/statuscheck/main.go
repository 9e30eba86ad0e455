// statuscheck prints, for each Kubernetes object it reads, what three status checkers say about it:
//
//   - kstatus: status.Compute of sigs.k8s.io/cli-utils (what `kubectl wait`-style tools and Flux's
//     default health checks rely on);
//   - Flux: the CEL health check of a Kustomization's spec.healthCheckExprs, read by the evaluator of
//     github.com/fluxcd/pkg/runtime/cel through the status reader kustomize-controller installs for them;
//   - Argo CD: a health.lua run the way Argo CD runs a resource customization (see argocd_lua.go).
//
// Usage:
//
//	statuscheck [-flux-kustomization FILE] [-health-lua FILE] [-open-libs] OBJECT_FILE...
//	statuscheck -argocd-health-test DIR
//	statuscheck -version
//
// An OBJECT_FILE ("-" for stdin) holds one object in YAML or JSON, or a `kind: List` of them. One JSON line
// is printed per object. The second form checks DIR/health_test.yaml the way argo-cd's TestLuaHealthScript
// does: one JSON line per case, exit status 1 when a case differs.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/fluxcd/pkg/apis/kustomize"
	fluxcel "github.com/fluxcd/pkg/runtime/cel"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/yaml"
)

// Verdict is one checker's answer about one object.
type Verdict struct {
	Status  string `json:"status,omitempty"`
	Message string `json:"message"`
	Error   string `json:"error,omitempty"`
}

// Report is the line printed per object.
type Report struct {
	Source    string   `json:"source"`
	Name      string   `json:"name"`
	Namespace string   `json:"namespace,omitempty"`
	KStatus   Verdict  `json:"kstatus"`
	Flux      *Verdict `json:"flux,omitempty"`
	ArgoCD    *Verdict `json:"argocd,omitempty"`
}

func main() {
	fluxKustomization := flag.String("flux-kustomization", "",
		"a Flux Kustomization (YAML) whose spec.healthCheckExprs are evaluated")
	healthLua := flag.String("health-lua", "", "an Argo CD health.lua to run on each object")
	openLibs := flag.Bool("open-libs", false,
		"open Lua's standard libraries, as Argo CD does for built-in scripts and useOpenLibs customizations")
	healthTestDir := flag.String("argocd-health-test", "",
		"a folder with health.lua and health_test.yaml, checked like argo-cd's TestLuaHealthScript")
	version := flag.Bool("version", false, "print the Go toolchain and the checkers' module versions")
	flag.Parse()

	if *version {
		printVersions(os.Stdout)
		return
	}
	if *healthTestDir != "" {
		ok, err := runHealthTest(*healthTestDir, *openLibs, os.Stdout)
		if err != nil {
			fmt.Fprintln(os.Stderr, "statuscheck:", err)
			os.Exit(2)
		}
		if !ok {
			os.Exit(1)
		}
		return
	}
	if err := run(flag.Args(), *fluxKustomization, *healthLua, *openLibs, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "statuscheck:", err)
		os.Exit(2)
	}
}

func run(paths []string, fluxKustomization, healthLua string, openLibs bool, out io.Writer) error {
	if len(paths) == 0 {
		return errors.New("no object files given (\"-\" reads stdin)")
	}
	var flux *fluxChecker
	if fluxKustomization != "" {
		var err error
		if flux, err = newFluxChecker(fluxKustomization); err != nil {
			return err
		}
	}
	var script string
	if healthLua != "" {
		data, err := os.ReadFile(healthLua)
		if err != nil {
			return err
		}
		script = string(data)
	}
	encoder := json.NewEncoder(out)
	for _, path := range paths {
		objects, err := readObjects(path)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		for _, obj := range objects {
			report := Report{Source: path, Name: obj.GetName(), Namespace: obj.GetNamespace()}
			report.KStatus = computeKStatus(obj)
			if flux != nil {
				verdict := flux.evaluate(obj)
				report.Flux = &verdict
			}
			if healthLua != "" {
				verdict := argoCDHealth(obj, script, openLibs)
				report.ArgoCD = &verdict
			}
			if err := encoder.Encode(report); err != nil {
				return err
			}
		}
	}
	return nil
}

// readObjects decodes objects the way a client of the API server does: through apimachinery's
// unstructured JSON decoding, so that integers (metadata.generation, status.observedGeneration) are int64,
// as kstatus and Flux's evaluator expect them.
func readObjects(path string) ([]*unstructured.Unstructured, error) {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(os.Stdin)
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, err
	}
	jsonData, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, err
	}
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(jsonData); err != nil {
		list := &unstructured.UnstructuredList{}
		if listErr := list.UnmarshalJSON(jsonData); listErr != nil {
			return nil, err
		}
		objects := make([]*unstructured.Unstructured, 0, len(list.Items))
		for i := range list.Items {
			objects = append(objects, &list.Items[i])
		}
		return objects, nil
	}
	if obj.IsList() {
		list, err := obj.ToList()
		if err != nil {
			return nil, err
		}
		objects := make([]*unstructured.Unstructured, 0, len(list.Items))
		for i := range list.Items {
			objects = append(objects, &list.Items[i])
		}
		return objects, nil
	}
	return []*unstructured.Unstructured{obj}, nil
}

func computeKStatus(obj *unstructured.Unstructured) Verdict {
	result, err := kstatus.Compute(obj)
	if err != nil {
		return Verdict{Error: err.Error()}
	}
	return Verdict{Status: string(result.Status), Message: result.Message}
}

type fluxChecker struct {
	// Reads a status through the reader kustomize-controller builds from spec.healthCheckExprs and hands to
	// kstatus' poller for the kinds they name.
	readStatus func(*unstructured.Unstructured) Verdict
}

func newFluxChecker(path string) (*fluxChecker, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var kustomization struct {
		Kind string `json:"kind"`
		Spec struct {
			HealthCheckExprs []kustomize.CustomHealthCheck `json:"healthCheckExprs"`
		} `json:"spec"`
	}
	// Only the fields this tool needs are declared: read leniently, then check what it needs.
	if err := yaml.Unmarshal(data, &kustomization); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if kustomization.Kind != "Kustomization" || len(kustomization.Spec.HealthCheckExprs) == 0 {
		return nil, fmt.Errorf("%s: not a Kustomization with spec.healthCheckExprs", path)
	}
	newReader, err := fluxcel.NewStatusReader(kustomization.Spec.HealthCheckExprs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	// kustomize-controller passes its REST mapper; reading a status from an object in hand does not use it.
	reader := newReader(nil)
	return &fluxChecker{readStatus: func(obj *unstructured.Unstructured) Verdict {
		result, err := reader.ReadStatusForObject(context.Background(), nil, obj)
		if err != nil {
			return Verdict{Error: err.Error()}
		}
		verdict := Verdict{Status: string(result.Status), Message: result.Message}
		if result.Error != nil {
			verdict.Error = result.Error.Error()
		}
		return verdict
	}}, nil
}

func (f *fluxChecker) evaluate(obj *unstructured.Unstructured) Verdict {
	return f.readStatus(obj)
}

// The modules whose code gives the answers, as built in.
var checkerModules = []string{
	"sigs.k8s.io/cli-utils", "github.com/fluxcd/pkg/runtime", "github.com/fluxcd/cli-utils",
	"github.com/google/cel-go", "github.com/yuin/gopher-lua", "layeh.com/gopher-json",
}

func printVersions(out io.Writer) {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		fmt.Fprintln(out, "statuscheck: no build information")
		return
	}
	fmt.Fprintf(out, "statuscheck built with %s\n", info.GoVersion)
	for _, path := range checkerModules {
		for _, dep := range info.Deps {
			if dep.Path == path {
				fmt.Fprintf(out, "  %-32s %s\n", dep.Path, dep.Version)
			}
		}
	}
}
