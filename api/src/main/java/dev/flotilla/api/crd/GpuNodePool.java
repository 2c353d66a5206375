package dev.flotilla.api.crd;

import io.fabric8.crd.generator.annotation.AdditionalPrinterColumn;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Kind;
import io.fabric8.kubernetes.model.annotation.Plural;
import io.fabric8.kubernetes.model.annotation.Singular;
import io.fabric8.kubernetes.model.annotation.Version;

/** A class of GPU nodes that worker replicas can be placed on. */
@Group(FlotillaResources.GROUP)
@Version(FlotillaResources.VERSION)
@Kind("GpuNodePool")
@Singular("gpunodepool")
@Plural("gpunodepools")
@AdditionalPrinterColumn(
    name = "GPU",
    jsonPath = ".spec.gpu.product",
    type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(
    name = "Memory",
    jsonPath = ".spec.gpu.memory",
    type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(
    name = "Capacity",
    jsonPath = ".status.capacityGpus",
    type = AdditionalPrinterColumn.Type.INTEGER)
@AdditionalPrinterColumn(
    name = "Allocated",
    jsonPath = ".status.allocatedGpus",
    type = AdditionalPrinterColumn.Type.INTEGER)
@AdditionalPrinterColumn(
    name = "Age",
    jsonPath = ".metadata.creationTimestamp",
    type = AdditionalPrinterColumn.Type.DATE)
public class GpuNodePool extends CustomResource<GpuNodePoolSpec, GpuNodePoolStatus> {}
