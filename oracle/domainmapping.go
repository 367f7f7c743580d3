package main

import (
	"fmt"

	netapi "knative.dev/networking/pkg/apis/networking"
	netv1alpha1 "knative.dev/networking/pkg/apis/networking/v1alpha1"
	"knative.dev/pkg/apis"
	"knative.dev/pkg/network"
	"sigs.k8s.io/yaml"

	v1 "knative.dev/serving/pkg/apis/serving/v1"
	"knative.dev/serving/pkg/apis/serving/v1beta1"
	servingnetworking "knative.dev/serving/pkg/networking"
	dmresources "knative.dev/serving/pkg/reconciler/domainmapping/resources"
	routeconfig "knative.dev/serving/pkg/reconciler/route/config"
)

// admitDomainMappings is the webhook for serving.knative.dev/v1beta1 DomainMappings: strict
// decoding, SetDefaults, then Validate, "within create" (as admit does for Services).
func (o *oracle) admitDomainMappings(docs []document) (mappings []*v1beta1.DomainMapping, from []document) {
	ctx := apis.WithinCreate(o.cfg.ctx)
	for _, doc := range docs {
		if doc.meta.APIVersion != v1beta1.SchemeGroupVersion.String() || doc.meta.Kind != "DomainMapping" {
			continue
		}
		dm := &v1beta1.DomainMapping{}
		if err := yaml.UnmarshalStrict(doc.json, dm); err != nil {
			o.reject(doc, err.Error())
			continue
		}
		if dm.Namespace == "" {
			dm.Namespace = "default" // kubectl's default namespace
		}
		dm.SetDefaults(ctx)
		if fe := dm.Validate(ctx); fe != nil {
			if errs := fe.Filter(apis.ErrorLevel); errs != nil {
				o.reject(doc, errs.Error())
				continue
			}
		}
		dm.UID = fakeUID("DomainMapping", dm.Namespace, dm.Name)
		mappings = append(mappings, dm)
		from = append(from, doc)
	}
	return mappings, from
}

// domainMapping is knative.dev/serving pkg/reconciler/domainmapping/reconciler.go ReconcileKind up
// to the KIngress, without TLS (external-domain-tls off) and with domain claims left to the
// operator. The ref is resolved the way the resolver would for the two kinds the input can hold:
// a Knative Service of the input (its route's address, NAME.NS.svc.cluster.local) and a plain
// Kubernetes Service (its DNS name). Anything else is not resolvable here: the reconciler stops.
func (o *oracle) domainMapping(dm *v1beta1.DomainMapping, services []*v1.Service) error {
	ctx := o.cfg.ctx
	ref := dm.Spec.Ref
	switch {
	case ref.APIVersion == v1.SchemeGroupVersion.String() && ref.Kind == "Service":
		if !hasService(services, ref.Namespace, ref.Name) {
			return fmt.Errorf("resolving reference: services.serving.knative.dev %q not found", ref.Name)
		}
	case ref.APIVersion == "v1" && ref.Kind == "Service":
	default:
		return fmt.Errorf("resolving reference: %s %s is not a Service the oracle can resolve", ref.APIVersion, ref.Kind)
	}
	host := network.GetServiceHostname(ref.Name, ref.Namespace)
	ingressClass := netapi.GetIngressClass(dm.Annotations)
	if ingressClass == "" {
		ingressClass = routeconfig.FromContext(ctx).Network.DefaultIngressClass
	}
	httpOption, err := servingnetworking.GetHTTPOption(ctx, routeconfig.FromContext(ctx).Network, dm.GetAnnotations())
	if err != nil {
		return err
	}
	ing := dmresources.MakeIngress(dm, ref.Name, host, ingressClass, httpOption, nil)
	ing.SetDefaults(ctx) // the networking webhook
	o.emit(ing.DeepCopy(), netv1alpha1.SchemeGroupVersion.WithKind("Ingress"))
	return nil
}

func hasService(services []*v1.Service, namespace, name string) bool {
	for _, svc := range services {
		if svc.Namespace == namespace && svc.Name == name {
			return true
		}
	}
	return false
}
