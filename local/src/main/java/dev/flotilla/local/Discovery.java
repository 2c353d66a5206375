package dev.flotilla.local;

import io.fabric8.kubernetes.api.model.APIGroup;
import io.fabric8.kubernetes.api.model.APIGroupBuilder;
import io.fabric8.kubernetes.api.model.APIGroupList;
import io.fabric8.kubernetes.api.model.APIGroupListBuilder;
import io.fabric8.kubernetes.api.model.APIResource;
import io.fabric8.kubernetes.api.model.APIResourceBuilder;
import io.fabric8.kubernetes.api.model.APIResourceList;
import io.fabric8.kubernetes.api.model.APIResourceListBuilder;
import io.fabric8.kubernetes.api.model.APIVersions;
import io.fabric8.kubernetes.api.model.APIVersionsBuilder;
import io.fabric8.kubernetes.api.model.GroupVersionForDiscovery;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinitionVersion;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The discovery documents kubectl reads before it does anything ({@code /api}, {@code /apis},
 * {@code /api/v1}, {@code /apis/<group>/<version>}). The in-memory API server serves none of them
 * with short names, verbs or subresources, so this class answers them: a fixed list of the built-in
 * kinds Flotilla and kubectl touch, plus one entry per installed CRD.
 */
final class Discovery {
  static final List<String> VERBS =
      List.of("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch");

  /** A built-in kind: where it lives and what kubectl calls it. */
  record Kind(
      String group,
      String version,
      String plural,
      String kind,
      boolean namespaced,
      List<String> shortNames,
      boolean scalable) {
    String groupVersion() {
      return group.isEmpty() ? version : group + "/" + version;
    }
  }

  static final List<Kind> BUILT_IN =
      List.of(
          new Kind("", "v1", "pods", "Pod", true, List.of("po"), false),
          new Kind("", "v1", "services", "Service", true, List.of("svc"), false),
          new Kind("", "v1", "endpoints", "Endpoints", true, List.of("ep"), false),
          new Kind("", "v1", "secrets", "Secret", true, List.of(), false),
          new Kind("", "v1", "configmaps", "ConfigMap", true, List.of("cm"), false),
          new Kind("", "v1", "serviceaccounts", "ServiceAccount", true, List.of("sa"), false),
          new Kind(
              "",
              "v1",
              "persistentvolumeclaims",
              "PersistentVolumeClaim",
              true,
              List.of("pvc"),
              false),
          new Kind("", "v1", "events", "Event", true, List.of("ev"), false),
          new Kind("", "v1", "namespaces", "Namespace", false, List.of("ns"), false),
          new Kind("", "v1", "nodes", "Node", false, List.of("no"), false),
          new Kind("apps", "v1", "deployments", "Deployment", true, List.of("deploy"), true),
          new Kind("apps", "v1", "replicasets", "ReplicaSet", true, List.of("rs"), true),
          new Kind("apps", "v1", "statefulsets", "StatefulSet", true, List.of("sts"), true),
          new Kind("coordination.k8s.io", "v1", "leases", "Lease", true, List.of(), false),
          new Kind(
              "discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", true, List.of(), false),
          new Kind("events.k8s.io", "v1", "events", "Event", true, List.of("ev"), false),
          new Kind(
              "networking.k8s.io",
              "v1",
              "networkpolicies",
              "NetworkPolicy",
              true,
              List.of("netpol"),
              false),
          new Kind(
              "policy",
              "v1",
              "poddisruptionbudgets",
              "PodDisruptionBudget",
              true,
              List.of("pdb"),
              false),
          new Kind("rbac.authorization.k8s.io", "v1", "roles", "Role", true, List.of(), false),
          new Kind(
              "rbac.authorization.k8s.io",
              "v1",
              "rolebindings",
              "RoleBinding",
              true,
              List.of(),
              false),
          new Kind(
              "rbac.authorization.k8s.io",
              "v1",
              "clusterroles",
              "ClusterRole",
              false,
              List.of(),
              false),
          new Kind(
              "rbac.authorization.k8s.io",
              "v1",
              "clusterrolebindings",
              "ClusterRoleBinding",
              false,
              List.of(),
              false),
          new Kind(
              "authorization.k8s.io",
              "v1",
              "selfsubjectrulesreviews",
              "SelfSubjectRulesReview",
              false,
              List.of(),
              false),
          new Kind(
              "authorization.k8s.io",
              "v1",
              "selfsubjectaccessreviews",
              "SelfSubjectAccessReview",
              false,
              List.of(),
              false),
          new Kind(
              "apiextensions.k8s.io",
              "v1",
              "customresourcedefinitions",
              "CustomResourceDefinition",
              false,
              List.of("crd", "crds"),
              false));

  private Discovery() {}

  static APIVersions coreVersions(String serverAddress) {
    return new APIVersionsBuilder()
        .withVersions("v1")
        .addNewServerAddressByClientCIDR("0.0.0.0/0", serverAddress)
        .build();
  }

  static APIGroupList groups(List<CustomResourceDefinition> crds) {
    Map<String, List<String>> versions = new LinkedHashMap<>();
    for (Kind k : BUILT_IN) {
      if (!k.group().isEmpty()) {
        addVersion(versions, k.group(), k.version());
      }
    }
    for (CustomResourceDefinition crd : crds) {
      for (CustomResourceDefinitionVersion v : crd.getSpec().getVersions()) {
        if (Boolean.TRUE.equals(v.getServed())) {
          addVersion(versions, crd.getSpec().getGroup(), v.getName());
        }
      }
    }
    APIGroupListBuilder list = new APIGroupListBuilder();
    versions.forEach((group, vs) -> list.addToGroups(apiGroup(group, vs)));
    return list.build();
  }

  static Optional<APIGroup> group(String group, List<CustomResourceDefinition> crds) {
    return groups(crds).getGroups().stream().filter(g -> g.getName().equals(group)).findFirst();
  }

  /** The resources of one group version, or empty when nothing is served there. */
  static Optional<APIResourceList> resources(
      String group, String version, List<CustomResourceDefinition> crds) {
    List<APIResource> resources = new ArrayList<>();
    for (Kind k : BUILT_IN) {
      if (k.group().equals(group) && k.version().equals(version)) {
        resources.add(resource(k.plural(), k.kind(), k.namespaced(), k.shortNames(), List.of()));
        resources.add(
            subresource(k.plural() + "/status", k.kind(), k.namespaced(), group, version));
        if (k.scalable()) {
          resources.add(
              subresource(k.plural() + "/scale", "Scale", k.namespaced(), "autoscaling", "v1"));
        }
        if (k.kind().equals("Pod")) {
          resources.add(subresource("pods/log", "Pod", true, "", "v1"));
        }
      }
    }
    for (CustomResourceDefinition crd : crds) {
      var spec = crd.getSpec();
      if (!spec.getGroup().equals(group)) {
        continue;
      }
      for (CustomResourceDefinitionVersion v : spec.getVersions()) {
        if (!v.getName().equals(version) || !Boolean.TRUE.equals(v.getServed())) {
          continue;
        }
        boolean namespaced = "Namespaced".equals(spec.getScope());
        resources.add(
            resource(
                spec.getNames().getPlural(),
                spec.getNames().getKind(),
                namespaced,
                orEmpty(spec.getNames().getShortNames()),
                orEmpty(spec.getNames().getCategories())));
        if (v.getSubresources() != null && v.getSubresources().getStatus() != null) {
          resources.add(
              subresource(
                  spec.getNames().getPlural() + "/status",
                  spec.getNames().getKind(),
                  namespaced,
                  group,
                  version));
        }
        if (v.getSubresources() != null && v.getSubresources().getScale() != null) {
          resources.add(
              subresource(
                  spec.getNames().getPlural() + "/scale",
                  "Scale",
                  namespaced,
                  "autoscaling",
                  "v1"));
        }
      }
    }
    if (resources.isEmpty()) {
      return Optional.empty();
    }
    String groupVersion = group.isEmpty() ? version : group + "/" + version;
    return Optional.of(
        new APIResourceListBuilder()
            .withGroupVersion(groupVersion)
            .withResources(resources)
            .build());
  }

  private static APIGroup apiGroup(String group, List<String> versions) {
    List<GroupVersionForDiscovery> gvs =
        versions.stream().map(v -> new GroupVersionForDiscovery(group + "/" + v, v)).toList();
    return new APIGroupBuilder()
        .withName(group)
        .withVersions(gvs)
        .withPreferredVersion(gvs.get(0))
        .build();
  }

  private static void addVersion(Map<String, List<String>> versions, String group, String version) {
    List<String> vs = versions.computeIfAbsent(group, g -> new ArrayList<>());
    if (!vs.contains(version)) {
      vs.add(version);
    }
  }

  private static APIResource resource(
      String plural,
      String kind,
      boolean namespaced,
      List<String> shortNames,
      List<String> categories) {
    String singular = kind.toLowerCase(java.util.Locale.ROOT);
    return new APIResourceBuilder()
        .withName(plural)
        .withSingularName(singular)
        .withKind(kind)
        .withNamespaced(namespaced)
        .withVerbs(VERBS)
        .withShortNames(shortNames.isEmpty() ? null : shortNames)
        .withCategories(categories.isEmpty() ? null : categories)
        .build();
  }

  private static APIResource subresource(
      String name, String kind, boolean namespaced, String group, String version) {
    return new APIResourceBuilder()
        .withName(name)
        .withSingularName("")
        .withKind(kind)
        .withNamespaced(namespaced)
        .withGroup(group.isEmpty() ? null : group)
        .withVersion(version)
        .withVerbs(name.endsWith("/log") ? List.of("get") : List.of("get", "patch", "update"))
        .build();
  }

  private static <T> List<T> orEmpty(List<T> list) {
    return list == null ? List.of() : list;
  }
}
