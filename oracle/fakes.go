package main

import (
	"crypto/sha256"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/types"
	netv1alpha1 "knative.dev/networking/pkg/apis/networking/v1alpha1"
)

// Values that only exist once objects are in a cluster. Fixed, so two runs print the same
// bytes; every difference they cause is an entry in oracle/allowed-differences.yaml.

// fakeClock is the reconcilers' clock (routing-state timestamps).
var fakeClock = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// fakeUID is the UID the API server would have given an object: deterministic per kind and name.
func fakeUID(kind, namespace, name string) types.UID {
	return types.UID(fmt.Sprintf("fake-uid-%s-%s-%s", kind, namespace, name))
}

// Load balancers net-istio writes into a KIngress' status with its default config-istio
// (knative-extensions/net-istio pkg/reconciler/ingress/config/istio.go: the ingress gateway's
// and the local gateway's Services).
var (
	fakePublicLoadBalancer = &netv1alpha1.LoadBalancerStatus{Ingress: []netv1alpha1.LoadBalancerIngressStatus{{
		DomainInternal: "istio-ingressgateway.istio-system.svc.cluster.local",
	}}}
	fakePrivateLoadBalancer = &netv1alpha1.LoadBalancerStatus{Ingress: []netv1alpha1.LoadBalancerIngressStatus{{
		DomainInternal: "knative-local-gateway.istio-system.svc.cluster.local",
	}}}
)

// fakeDigest is the digest the revision reconciler would resolve an image to (a registry lookup).
func fakeDigest(image string) string {
	return fmt.Sprintf("%s@sha256:%x", image, sha256.Sum256([]byte(image)))
}
