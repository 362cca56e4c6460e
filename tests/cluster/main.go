// Command webscale-k8s is one multi-call binary holding a local Kubernetes
// control plane built from the pinned k8s.io/kubernetes Go module:
//
//	webscale-k8s etcd --data-dir D --client-url URL --peer-url URL
//	webscale-k8s apiserver [kube-apiserver flags]
//	webscale-k8s controller-manager [kube-controller-manager flags]
//	webscale-k8s scheduler [kube-scheduler flags]
//	webscale-k8s kubectl [kubectl args]
//
// Each component runs as its own process (flags, feature gates and metrics are
// process-global), started by operator/webscale/devcluster.
package main

import (
	"fmt"
	"os"
	_ "time/tzdata"

	_ "k8s.io/client-go/plugin/pkg/client/auth"
	"k8s.io/component-base/cli"
	"k8s.io/component-base/logs"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	kubectl "k8s.io/kubectl/pkg/cmd"
	kubectlutil "k8s.io/kubectl/pkg/cmd/util"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
)

const usage = "usage: webscale-k8s etcd|apiserver|controller-manager|scheduler|kubectl [flags]"

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	sub := os.Args[1]
	// Each upstream command parses os.Args[1:] itself: drop the subcommand.
	os.Args = append([]string{os.Args[0]}, os.Args[2:]...)
	switch sub {
	case "etcd":
		os.Exit(runEtcd(os.Args[1:]))
	case "apiserver":
		os.Exit(cli.Run(apiserver.NewAPIServerCommand()))
	case "controller-manager":
		os.Exit(cli.Run(controllermanager.NewControllerManagerCommand()))
	case "scheduler":
		os.Exit(cli.Run(scheduler.NewSchedulerCommand()))
	case "kubectl":
		logs.GlogSetter(kubectl.GetLogVerbosity(os.Args)) //nolint:errcheck
		if err := cli.RunNoErrOutput(kubectl.NewDefaultKubectlCommand()); err != nil {
			kubectlutil.CheckErr(err)
		}
	default:
		fmt.Fprintf(os.Stderr, "webscale-k8s: unknown component %q\n%s\n", sub, usage)
		os.Exit(2)
	}
}
