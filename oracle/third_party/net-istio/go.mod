// A copy of the two net-istio packages the oracle needs (see README.md here):
// knative.dev/net-istio is not served by this build's Go module proxy.
module knative.dev/net-istio

go 1.25.0
