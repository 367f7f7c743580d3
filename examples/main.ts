import { buildExamplesApp } from './charts';

// cdk8s.yaml runs this file: one dist/<chart>.k8s.yaml per example plus dist/serving-system.k8s.yaml.
buildExamplesApp().synth();
