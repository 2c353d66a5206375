package dev.flotilla.api.crd;

import io.fabric8.crd.generator.annotation.AdditionalPrinterColumn;
import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Kind;
import io.fabric8.kubernetes.model.annotation.Plural;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Singular;
import io.fabric8.kubernetes.model.annotation.Version;

/** One LoRA fine-tune of a ModelDeployment's base model, owned by a tenant or public. */
@Group(FlotillaResources.GROUP)
@Version(FlotillaResources.VERSION)
@Kind("LoraAdapter")
@Singular("loraadapter")
@Plural("loraadapters")
@ShortNames("lora")
@AdditionalPrinterColumn(
    name = "Model",
    jsonPath = ".spec.modelDeployment",
    type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(
    name = "Tenant",
    jsonPath = ".spec.tenant",
    type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(
    name = "Visibility",
    jsonPath = ".spec.visibility",
    type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(
    name = "Validated",
    jsonPath = ".status.conditions[?(@.type==\"Validated\")].status",
    type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(
    name = "Age",
    jsonPath = ".metadata.creationTimestamp",
    type = AdditionalPrinterColumn.Type.DATE)
public class LoraAdapter extends CustomResource<LoraAdapterSpec, LoraAdapterStatus>
    implements Namespaced {}
