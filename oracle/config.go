package main

import (
	"context"
	"fmt"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/pkg/configmap"
	"knative.dev/pkg/logging"
	"knative.dev/pkg/system"
	apiconfig "knative.dev/serving/pkg/apis/config"
	"knative.dev/serving/pkg/autoscaler/config/autoscalerconfig"
	revconfig "knative.dev/serving/pkg/reconciler/revision/config"
	routeconfig "knative.dev/serving/pkg/reconciler/route/config"
)

// configMapNames are the ConfigMaps the stores below watch. A name the caller does not give
// is an empty ConfigMap, which is what a fresh install ships (every key commented out).
var configMapNames = []string{
	"config-defaults", "config-features", "config-autoscaler", "config-deployment",
	"config-logging", "config-observability", "config-network", "config-domain", "config-gc",
}

// knativeConfig is every config Knative's webhook and reconcilers read, loaded the way the
// controllers load it: each package's store over the same ConfigMaps.
type knativeConfig struct {
	ctx        context.Context // apis, revision and route configs attached
	autoscaler *autoscalerconfig.Config
}

func loadConfig(given map[string]*corev1.ConfigMap) (cfg *knativeConfig, err error) {
	namespace := system.Namespace()
	var cms []*corev1.ConfigMap
	for _, name := range configMapNames {
		cm, ok := given[name]
		if !ok {
			cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}}
		}
		cms = append(cms, cm)
	}
	for name := range given {
		if !contains(configMapNames, name) {
			return nil, fmt.Errorf("config: unknown ConfigMap %q (known: %v)", name, configMapNames)
		}
	}
	// The stores panic when a ConfigMap does not parse (the controllers would crash-loop);
	// report that as an error instead.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("config: %v", r)
		}
	}()
	watcher := configmap.NewStaticWatcher(cms...)
	// A bad ConfigMap makes the stores log at Fatal level; panic instead of exiting so the
	// recover above can report it.
	logger := zap.NewNop().WithOptions(zap.WithFatalHook(zapcore.WriteThenPanic)).Sugar()
	ctx := logging.WithLogger(context.Background(), logger)

	apiStore := apiconfig.NewStore(logger)
	apiStore.WatchConfigs(watcher)
	revStore := revconfig.NewStore(logger)
	revStore.WatchConfigs(watcher)
	routeStore := routeconfig.NewStore(ctx)
	routeStore.WatchConfigs(watcher)

	ctx = revStore.ToContext(apiStore.ToContext(ctx))
	ctx = routeStore.ToContext(ctx)
	if revconfig.FromContext(ctx).Deployment == nil {
		return nil, fmt.Errorf("config: config-deployment did not load (queue-sidecar-image is required)")
	}
	return &knativeConfig{ctx: ctx, autoscaler: apiStore.Load().Autoscaler}, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
