package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"knative.dev/networking/pkg/apis/networking"
	netv1alpha1 "knative.dev/networking/pkg/apis/networking/v1alpha1"
	"knative.dev/pkg/apis"
	"sigs.k8s.io/yaml"

	"knative.dev/serving/pkg/apis/autoscaling"
	autoscalingv1alpha1 "knative.dev/serving/pkg/apis/autoscaling/v1alpha1"
	"knative.dev/serving/pkg/apis/serving"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
	servinglisters "knative.dev/serving/pkg/client/listers/serving/v1"
	hparesources "knative.dev/serving/pkg/reconciler/autoscaling/hpa/resources"
	asresources "knative.dev/serving/pkg/reconciler/autoscaling/resources"
	configresources "knative.dev/serving/pkg/reconciler/configuration/resources"
	revconfig "knative.dev/serving/pkg/reconciler/revision/config"
	revresources "knative.dev/serving/pkg/reconciler/revision/resources"
	routeconfig "knative.dev/serving/pkg/reconciler/route/config"
	routeresources "knative.dev/serving/pkg/reconciler/route/resources"
	"knative.dev/serving/pkg/reconciler/route/traffic"
	"knative.dev/serving/pkg/reconciler/route/visibility"
	sksresources "knative.dev/serving/pkg/reconciler/serverlessservice/resources"
	serviceresources "knative.dev/serving/pkg/reconciler/service/resources"
)

// rejection is a document Knative's webhook would refuse, with its FieldError text (which
// names the field paths).
type rejection struct {
	File     string `json:"file"`
	Document int    `json:"document"` // 1-based position in the file's stream
	Kind     string `json:"kind"`
	Name     string `json:"name"`
	Message  string `json:"message"`
}

type result struct {
	Objects  []map[string]any `json:"objects"`
	Rejected []rejection      `json:"rejected"`
	Warnings []rejection      `json:"warnings"`
	// NotReady: accepted by the webhook, but a reconciler stops (e.g. a traffic target that
	// names no existing revision: the Route reports it in its status and configures nothing).
	NotReady []rejection `json:"notReady"`
}

// oracle collects what the controllers would create and the revisions/configurations the
// route reconciler finds through its listers.
type oracle struct {
	cfg       *knativeConfig
	out       *result
	revisions cache.Indexer
	configs   cache.Indexer
	services  cache.Indexer  // placeholder k8s Services (visibility resolver)
	documents []*v1.Revision // Revision documents, with --own-revision-documents
}

// The listers look objects up by namespace.
var namespaceIndex = cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc}

func run(configFile, historyFile string, files []string) (*result, error) {
	given, err := readConfigMaps(configFile)
	if err != nil {
		return nil, err
	}
	cfg, err := loadConfig(given)
	if err != nil {
		return nil, err
	}
	hist, err := readHistory(historyFile)
	if err != nil {
		return nil, err
	}
	o := &oracle{
		cfg:       cfg,
		out:       &result{Objects: []map[string]any{}, Rejected: []rejection{}, Warnings: []rejection{}, NotReady: []rejection{}},
		revisions: cache.NewIndexer(cache.MetaNamespaceKeyFunc, namespaceIndex),
		configs:   cache.NewIndexer(cache.MetaNamespaceKeyFunc, namespaceIndex),
		services:  cache.NewIndexer(cache.MetaNamespaceKeyFunc, namespaceIndex),
	}
	var docs []document
	for _, file := range files {
		fileDocs, err := readDocuments([]string{file})
		if err != nil {
			// kubectl would refuse the file before anything reaches the API server.
			o.out.Rejected = append(o.out.Rejected, rejection{File: file, Message: err.Error()})
			continue
		}
		docs = append(docs, fileDocs...)
	}
	services, revisions := o.admit(docs)
	mappings, mappingDocs := o.admitDomainMappings(docs)
	if len(o.out.Rejected) > 0 {
		// kubectl apply of the stream would stop at the rejected documents; nothing to compare.
		return o.out, nil
	}
	if ownRevisionDocuments {
		addServiceLabels(revisions, services)
		o.documents = revisions
	}
	for _, rev := range revisions {
		if err := o.revision(rev); err != nil {
			return nil, err
		}
	}
	for _, svc := range services {
		if err := o.service(svc, hist); err != nil {
			return nil, err
		}
	}
	for _, svc := range services {
		route := serviceresources.MakeRoute(svc)
		if err := o.route(route); err != nil {
			// The Route reconciler reports it in the Route's status and configures nothing.
			o.out.NotReady = append(o.out.NotReady, rejection{Kind: "Route", Name: route.Namespace + "/" + route.Name, Message: err.Error()})
		}
	}
	for i, dm := range mappings {
		if err := o.domainMapping(dm, services); err != nil {
			// The DomainMapping reconciler reports it in its status (ReferenceResolved false) and configures nothing.
			o.out.NotReady = append(o.out.NotReady, o.rejectionOf(mappingDocs[i], err.Error()))
		}
	}
	return o.out, nil
}

// ownRevisionDocuments: see the --own-revision-documents flag.
var ownRevisionDocuments bool

// addConfigurationOwner gives a Revision labelled with its Configuration the controller
// reference Knative's webhook requires with that label (pkg/apis/serving/v1
// revision_validation.go ValidateLabels), as a Revision exported from a cluster has it.
func addConfigurationOwner(rev *v1.Revision) {
	configuration, ok := rev.Labels[serving.ConfigurationLabelKey]
	if !ok || len(rev.OwnerReferences) > 0 {
		return
	}
	controller := true
	rev.OwnerReferences = []metav1.OwnerReference{{
		APIVersion: v1.SchemeGroupVersion.String(), Kind: "Configuration", Name: configuration,
		UID: fakeUID("Configuration", rev.Namespace, configuration), Controller: &controller, BlockOwnerDeletion: &controller,
	}}
}

// addServiceLabels gives a Revision of a Service's Configuration the service label an exported
// Revision carries; the Route reconciler only routes to revisions of its own Service
// (pkg/reconciler/route/traffic/traffic.go addRevisionTarget).
func addServiceLabels(revisions []*v1.Revision, services []*v1.Service) {
	for _, rev := range revisions {
		configuration := rev.Labels[serving.ConfigurationLabelKey]
		if configuration == "" || rev.Labels[serving.ServiceLabelKey] != "" {
			continue
		}
		for _, svc := range services {
			if svc.Namespace == rev.Namespace && svc.Name == configuration {
				rev.Labels[serving.ServiceLabelKey] = svc.Name
			}
		}
	}
}

// admit is the webhook: strict decoding, SetDefaults, then Validate, all "within create".
func (o *oracle) admit(docs []document) (services []*v1.Service, revisions []*v1.Revision) {
	ctx := apis.WithinCreate(o.cfg.ctx)
	for _, doc := range docs {
		if doc.meta.APIVersion != v1.SchemeGroupVersion.String() {
			continue // passed through by both programs
		}
		var obj interface {
			apis.Defaultable
			apis.Validatable
			metav1.Object
		}
		switch doc.meta.Kind {
		case "Service":
			obj = &v1.Service{}
		case "Revision":
			obj = &v1.Revision{}
		default:
			o.reject(doc, "kind "+doc.meta.Kind+" is not compared by the oracle")
			continue
		}
		// The API server prunes nothing here: Knative's CRDs keep unknown fields out with
		// their schemas, and its webhook decodes with DisallowUnknownFields.
		if err := yaml.UnmarshalStrict(doc.json, obj); err != nil {
			o.reject(doc, err.Error())
			continue
		}
		if obj.GetNamespace() == "" {
			obj.SetNamespace("default") // kubectl's default namespace
		}
		if rev, ok := obj.(*v1.Revision); ok && ownRevisionDocuments {
			addConfigurationOwner(rev)
		}
		obj.SetDefaults(ctx)
		if fe := obj.Validate(ctx); fe != nil {
			if errs := fe.Filter(apis.ErrorLevel); errs != nil {
				o.reject(doc, errs.Error())
				continue
			}
			if warns := fe.Filter(apis.WarningLevel); warns != nil {
				o.out.Warnings = append(o.out.Warnings, o.rejectionOf(doc, warns.Error()))
			}
		}
		switch x := obj.(type) {
		case *v1.Service:
			x.UID = fakeUID("Service", x.Namespace, x.Name)
			x.Generation = 1
			services = append(services, x)
		case *v1.Revision:
			x.UID = fakeUID("Revision", x.Namespace, x.Name)
			x.Generation = 1
			revisions = append(revisions, x)
		}
	}
	return services, revisions
}

func (o *oracle) rejectionOf(doc document, message string) rejection {
	return rejection{File: doc.file, Document: doc.index + 1, Kind: doc.meta.Kind, Name: doc.meta.Metadata.Name, Message: message}
}

func (o *oracle) reject(doc document, message string) {
	o.out.Rejected = append(o.out.Rejected, o.rejectionOf(doc, message))
}

// service is the Service reconciler (MakeConfiguration) and the Configuration reconciler
// (MakeRevision) at the Configuration's generation; earlier revisions the history lists are
// what earlier generations stamped out, rebuilt from their templates.
func (o *oracle) service(svc *v1.Service, hist *history) error {
	configuration := serviceresources.MakeConfiguration(svc)
	configuration.UID = fakeUID("Configuration", svc.Namespace, svc.Name)
	configuration.Generation = 1
	var earlier []*v1.Revision
	for _, s := range hist.Services {
		if s.Namespace != svc.Namespace || s.Name != svc.Name {
			continue
		}
		configuration.Generation = s.Generation
		for _, h := range s.Revisions {
			if h.Generation == s.Generation {
				continue // the current template: built below from the Service itself
			}
			old := configuration.DeepCopy()
			old.Generation = h.Generation
			old.Spec.Template = v1.RevisionTemplateSpec{} // decode fresh: json reuses slice elements
			if err := json.Unmarshal(h.Template, &old.Spec.Template); err != nil {
				return fmt.Errorf("history %s/%s: %w", s.Namespace, h.Name, err)
			}
			old.Spec.Template.SetDefaults(o.cfg.ctx)
			rev := configresources.MakeRevision(o.cfg.ctx, old, fakeClock)
			rev.Name = h.Name
			earlier = append(earlier, rev)
		}
	}
	// A Revision exported at configuration generation N means the Configuration has passed N.
	for _, doc := range o.documents {
		if doc.Namespace == svc.Namespace && doc.Labels[serving.ConfigurationLabelKey] == svc.Name {
			if g, err := strconv.ParseInt(doc.Labels[serving.ConfigurationGenerationLabelKey], 10, 64); err == nil && g >= configuration.Generation {
				configuration.Generation = g + 1
			}
		}
	}
	latest := configresources.MakeRevision(o.cfg.ctx, configuration, fakeClock)
	configuration.Status.LatestCreatedRevisionName = latest.Name
	configuration.Status.LatestReadyRevisionName = latest.Name
	if err := o.configs.Add(configuration); err != nil {
		return err
	}
	o.emit(configuration.DeepCopy(), v1.SchemeGroupVersion.WithKind("Configuration"))
	for _, rev := range append(earlier, latest) {
		rev.SetDefaults(apis.WithinCreate(o.cfg.ctx)) // the webhook, on the controller's create
		rev.UID = fakeUID("Revision", rev.Namespace, rev.Name)
		if !referenced(svc, rev.Name) && rev != latest {
			// Knative keeps it (until GC) scaled to zero; kservice drops revisions no route
			// target names. Only the lister needs it.
			markReady(rev)
			if err := o.revisions.Add(rev); err != nil {
				return err
			}
			continue
		}
		if err := o.revision(rev); err != nil {
			return err
		}
	}
	return nil
}

func referenced(svc *v1.Service, revision string) bool {
	for _, t := range svc.Spec.Traffic {
		if t.RevisionName == revision {
			return true
		}
	}
	return false
}

func markReady(rev *v1.Revision) {
	rev.Status.InitializeConditions()
	rev.Status.MarkResourcesAvailableTrue()
	rev.Status.MarkContainerHealthyTrue()
	rev.Status.MarkActiveTrue()
	rev.Status.ObservedGeneration = rev.Generation
}

// revision is the Revision reconciler (Deployment, PodAutoscaler), the autoscaler reconcilers
// (HPA, ServerlessService) and the ServerlessService reconciler (public and private Services,
// public Endpoints).
func (o *oracle) revision(rev *v1.Revision) error {
	ctx := o.cfg.ctx
	// The revision reconciler resolves every image to a digest before it builds the Deployment.
	rev.Status.ContainerStatuses = nil
	for _, c := range rev.Spec.Containers {
		rev.Status.ContainerStatuses = append(rev.Status.ContainerStatuses, v1.ContainerStatus{Name: c.Name, ImageDigest: fakeDigest(c.Image)})
	}
	deployment, err := revresources.MakeDeployment(rev, revconfig.FromContext(ctx))
	if err != nil {
		return fmt.Errorf("revision %s/%s: %w", rev.Namespace, rev.Name, err)
	}
	o.emit(deployment, appsv1.SchemeGroupVersion.WithKind("Deployment"))

	// pkg/reconciler/revision/cruds.go createPA: MakePA, the class default, then the webhook.
	pa := revresources.MakePA(rev, deployment)
	if pa.Annotations == nil {
		pa.Annotations = map[string]string{}
	}
	if _, ok := pa.Annotations[autoscaling.ClassAnnotationKey]; !ok && o.cfg.autoscaler.PodAutoscalerClass != "" {
		pa.Annotations[autoscaling.ClassAnnotationKey] = o.cfg.autoscaler.PodAutoscalerClass
	}
	pa.SetDefaults(ctx)
	pa.UID = fakeUID("PodAutoscaler", pa.Namespace, pa.Name)

	// pkg/reconciler/autoscaling/hpa/hpa.go serves from the pods (no activator); the KPA
	// starts a new revision in proxy mode (pkg/reconciler/autoscaling/kpa/kpa.go).
	mode, numActivators := netv1alpha1.SKSOperationModeProxy, int32(0)
	if pa.Class() == autoscaling.HPA {
		mode = netv1alpha1.SKSOperationModeServe
		hpa := hparesources.MakeHPA(pa, o.cfg.autoscaler)
		o.emit(hpa, schema.GroupVersionKind{Group: "autoscaling", Version: "v2", Kind: "HorizontalPodAutoscaler"})
	}
	sks := asresources.MakeSKS(pa, mode, numActivators)
	sks.SetDefaults(ctx)
	sks.UID = fakeUID("ServerlessService", sks.Namespace, sks.Name)
	o.emit(pa, autoscalingv1alpha1.SchemeGroupVersion.WithKind("PodAutoscaler"))
	o.emit(sks, netv1alpha1.SchemeGroupVersion.WithKind("ServerlessService"))

	o.emit(sksresources.MakePublicService(sks), corev1.SchemeGroupVersion.WithKind("Service"))
	// The public Endpoints copy the activator's (proxy) or the private Service's (serve)
	// endpoints, which a static graph does not have: an empty source.
	o.emit(sksresources.MakePublicEndpoints(sks, &corev1.Endpoints{}), corev1.SchemeGroupVersion.WithKind("Endpoints"))
	o.emit(sksresources.MakePrivateService(sks, deployment.Spec.Selector.MatchLabels), corev1.SchemeGroupVersion.WithKind("Service"))

	markReady(rev)
	o.emit(rev.DeepCopy(), v1.SchemeGroupVersion.WithKind("Revision"))
	return o.revisions.Add(rev)
}

// route is the Route reconciler (traffic, placeholder Services, KIngress, the Services
// pointing at the ingress' load balancer). The KIngress is where Knative Serving's part ends:
// a networking plugin (net-istio) turns it into VirtualServices; test/oracle compares kservice's
// VirtualServices with it (see README.md).
func (o *oracle) route(route *v1.Route) error {
	ctx := o.cfg.ctx
	route.UID = fakeUID("Route", route.Namespace, route.Name)
	route.Generation = 1
	route.SetDefaults(apis.WithinCreate(ctx))
	name := route.Namespace + "/" + route.Name

	tc, err := traffic.BuildTrafficConfiguration(
		servinglisters.NewConfigurationLister(o.configs), servinglisters.NewRevisionLister(o.revisions), route)
	if err != nil {
		return fmt.Errorf("route %s: traffic: %w", name, err)
	}
	tc.Visibility, err = visibility.NewResolver(corelisters.NewServiceLister(o.services)).GetVisibility(ctx, route)
	if err != nil {
		return fmt.Errorf("route %s: visibility: %w", name, err)
	}

	tags := make([]string, 0, len(tc.Targets))
	placeholders := map[string]*corev1.Service{}
	for tag := range tc.Targets {
		tags = append(tags, tag)
	}
	sort.Strings(tags)
	for _, tag := range tags {
		svc, err := routeresources.MakeK8sPlaceholderService(ctx, route, tag)
		if err != nil {
			return fmt.Errorf("route %s: placeholder service: %w", name, err)
		}
		// The API server refuses a Service whose name is not a DNS-1035 label
		// (k8s.io/kubernetes pkg/apis/core/validation ValidateServiceName); the reconciler stops.
		if problems := validation.IsDNS1035Label(svc.Name); len(problems) > 0 {
			return fmt.Errorf("route %s: API server refuses Service %q: %s", name, svc.Name, strings.Join(problems, "; "))
		}
		placeholders[tag] = svc
	}

	ingressClass := ingressClassForRoute(ctx, route)
	ing, err := routeresources.MakeIngress(ctx, route, tc, nil, ingressClass)
	if err != nil {
		return fmt.Errorf("route %s: ingress: %w", name, err)
	}
	ing.SetDefaults(ctx) // the networking webhook
	o.emit(route.DeepCopy(), v1.SchemeGroupVersion.WithKind("Route"))
	o.emit(ing.DeepCopy(), netv1alpha1.SchemeGroupVersion.WithKind("Ingress"))
	ing.Status.PublicLoadBalancer = fakePublicLoadBalancer
	ing.Status.PrivateLoadBalancer = fakePrivateLoadBalancer

	for _, tag := range tags {
		pair, err := routeresources.MakeK8sService(ctx, route, tag, ing, routeresources.IsClusterLocalService(placeholders[tag]))
		if err != nil {
			return fmt.Errorf("route %s: service for tag %q: %w", name, tag, err)
		}
		o.emit(pair.Service, corev1.SchemeGroupVersion.WithKind("Service"))
		if pair.Endpoints != nil {
			o.emit(pair.Endpoints, corev1.SchemeGroupVersion.WithKind("Endpoints"))
		}
	}

	return nil
}

// emit prints an object as the API server would receive it: apiVersion and kind set, the
// empty status and the null creationTimestamp Go's encoding adds left out.
func (o *oracle) emit(obj runtime.Object, gvk schema.GroupVersionKind) {
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	raw, err := json.Marshal(obj)
	if err != nil {
		panic(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		panic(err)
	}
	delete(m, "status")
	if meta, ok := m["metadata"].(map[string]any); ok {
		if meta["creationTimestamp"] == nil {
			delete(meta, "creationTimestamp")
		}
	}
	o.out.Objects = append(o.out.Objects, m)
}

// ingressClassForRoute is knative.dev/serving pkg/reconciler/route/route.go's (unexported there).
func ingressClassForRoute(ctx context.Context, r *v1.Route) string {
	if class := networking.GetIngressClass(r.Annotations); class != "" {
		return class
	}
	return routeconfig.FromContext(ctx).Network.DefaultIngressClass
}
