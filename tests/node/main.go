// Command webscale-node is one multi-call binary holding a real Kubernetes node's
// agents, built from the same pinned k8s.io/kubernetes module as the control plane
// (tests/cluster/go.mod):
//
//	webscale-node kubelet [kubelet flags]
//	webscale-node kube-proxy [kube-proxy flags]
//
// Each runs as its own process, started by webscale_local.node.
package main

import (
	"context"
	"fmt"
	"os"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	kubelet "k8s.io/kubernetes/cmd/kubelet/app"
	proxy "k8s.io/kubernetes/cmd/kube-proxy/app"
)

const usage = "usage: webscale-node kubelet|kube-proxy [flags]"

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	sub := os.Args[1]
	os.Args = append([]string{os.Args[0]}, os.Args[2:]...)
	switch sub {
	case "kubelet":
		os.Exit(cli.Run(kubelet.NewKubeletCommand(context.Background())))
	case "kube-proxy":
		os.Exit(cli.Run(proxy.NewProxyCommand()))
	default:
		fmt.Fprintf(os.Stderr, "webscale-node: unknown component %q\n%s\n", sub, usage)
		os.Exit(2)
	}
}
