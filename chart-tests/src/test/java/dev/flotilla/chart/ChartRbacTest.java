package dev.flotilla.chart;

import static dev.flotilla.chart.FlotillaChart.NAMESPACE;
import static org.assertj.core.api.Assertions.assertThat;

import dev.flotilla.chart.FlotillaChart.Rendered;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBinding;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import io.fabric8.kubernetes.api.model.rbac.Subject;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Least privilege: each component gets exactly the verbs on exactly the kinds it uses. */
class ChartRbacTest {
  private static final Set<String> READ = Set.of("get", "list", "watch");
  private static final Set<String> READ_WRITE = Set.of("get", "list", "watch", "update", "patch");
  private static final Set<String> OWN =
      Set.of("get", "list", "watch", "create", "update", "patch", "delete");
  private static final Set<String> RECORD = Set.of("create", "patch");

  @Test
  void operatorClusterRoleGrantsExactlyTheKindsItManages() {
    ClusterRole role = FlotillaChart.renderDefaults().one(ClusterRole.class, "flotilla-operator");

    Map<String, Set<String>> expected = new TreeMap<>();
    for (String resource :
        List.of(
            "modeldeployments",
            "modeldeployments/status",
            "modeldeployments/scale",
            "loraadapters",
            "loraadapters/status",
            "tenants",
            "tenants/status",
            "gpunodepools",
            "gpunodepools/status")) {
      expected.put("flotilla.dev/" + resource, READ_WRITE);
    }
    expected.put("apps/deployments", OWN);
    expected.put("/services", OWN);
    // Creates and renews the mTLS Secrets (CA, gateway, operator, each model's workers in the
    // model's namespace). Never deletes one: worker Secrets go with their ModelDeployment.
    expected.put("/secrets", Set.of("get", "list", "watch", "create", "update"));
    expected.put("/pods", READ);
    expected.put(
        "networking.k8s.io/networkpolicies",
        Set.of("get", "list", "watch", "create", "update", "delete", "deletecollection"));
    expected.put("/events", RECORD);
    expected.put("events.k8s.io/events", RECORD);
    assertThat(grants(role.getRules())).isEqualTo(expected);
  }

  @Test
  void operatorMayTouchLeasesAndLabelItsPodOnlyInTheReleaseNamespace() {
    Rendered rendered = FlotillaChart.renderDefaults();
    Role role = rendered.one(Role.class, "flotilla-operator-leader-election");
    RoleBinding binding = rendered.one(RoleBinding.class, "flotilla-operator-leader-election");

    assertThat(rendered.all(Role.class))
        .filteredOn(
            r -> r.getRules().stream().anyMatch(rule -> rule.getResources().contains("leases")))
        .containsExactly(role);
    assertThat(role.getMetadata().getNamespace()).isEqualTo(NAMESPACE);
    assertThat(grants(role.getRules()))
        .isEqualTo(
            Map.of(
                "coordination.k8s.io/leases",
                Set.of("get", "create", "update"),
                "/pods",
                Set.of("patch")));
    assertThat(binding.getMetadata().getNamespace()).isEqualTo(NAMESPACE);
    assertThat(binding.getRoleRef().getKind()).isEqualTo("Role");
    assertThat(binding.getRoleRef().getName()).isEqualTo(role.getMetadata().getName());
    assertThat(binding.getSubjects())
        .singleElement()
        .satisfies(s -> isServiceAccount(s, "flotilla-operator"));
  }

  @Test
  void leaseRoleIsLeftOutWithoutLeaderElection() {
    Rendered rendered =
        Rendered.parse(
            FlotillaChart.template(
                "flotilla",
                null,
                Map.of("operator.leaderElection.enabled", false, "operator.replicas", 1)));

    assertThat(rendered.all(Role.class))
        .extracting(r -> r.getMetadata().getName())
        .containsExactly("flotilla-tenant-keys");
    assertThat(rendered.all(RoleBinding.class))
        .extracting(r -> r.getMetadata().getName())
        .containsExactly("flotilla-tenant-keys");
  }

  @Test
  void byDefaultTheOperatorWritesSecretsInEveryNamespaceAndHasNoSecretRoles() {
    Rendered rendered = FlotillaChart.renderDefaults();

    assertThat(
            grants(rendered.one(ClusterRole.class, "flotilla-operator").getRules()).get("/secrets"))
        .isEqualTo(Set.of("get", "list", "watch", "create", "update"));
    assertThat(rendered.all(Role.class))
        .extracting(r -> r.getMetadata().getName())
        .doesNotContain("flotilla-operator-worker-tls", "flotilla-operator-mtls");
    assertThat(env(rendered, "flotilla-operator"))
        .doesNotContainKey("FLOTILLA_OPERATOR_MODEL_NAMESPACES");
  }

  @Test
  void withModelNamespacesTheOperatorWritesSecretsThereAndInTheReleaseNamespaceOnly() {
    Rendered rendered =
        Rendered.parse(
            FlotillaChart.template(
                "flotilla",
                null,
                Map.of(
                    "operator.modelNamespaces[0]",
                    "models",
                    "operator.modelNamespaces[1]",
                    "team-b")));

    assertThat(grants(rendered.one(ClusterRole.class, "flotilla-operator").getRules()))
        .doesNotContainKey("/secrets");
    List<Role> workerTls =
        rendered.all(Role.class).stream()
            .filter(r -> r.getMetadata().getName().equals("flotilla-operator-worker-tls"))
            .toList();
    assertThat(workerTls)
        .extracting(r -> r.getMetadata().getNamespace())
        .containsExactly("models", "team-b");
    for (Role role : workerTls) {
      // Watched by label, created and renewed; never deleted (they go with their model).
      assertThat(grants(role.getRules()))
          .isEqualTo(Map.of("/secrets", Set.of("get", "list", "watch", "create", "update")));
      assertBoundToOperator(rendered, role);
    }
    Role mtls =
        rendered.all(Role.class).stream()
            .filter(r -> r.getMetadata().getName().equals("flotilla-operator-mtls"))
            .collect(
                java.util.stream.Collectors.collectingAndThen(
                    java.util.stream.Collectors.toList(),
                    list -> {
                      assertThat(list).hasSize(1);
                      return list.get(0);
                    }));
    // The CA and the gateway's and operator's certificates: read by name, created and renewed.
    assertThat(mtls.getMetadata().getNamespace()).isEqualTo(NAMESPACE);
    assertThat(grants(mtls.getRules()))
        .isEqualTo(Map.of("/secrets", Set.of("get", "create", "update")));
    assertBoundToOperator(rendered, mtls);
    assertThat(env(rendered, "flotilla-operator"))
        .containsEntry("FLOTILLA_OPERATOR_MODEL_NAMESPACES", "models,team-b");
    assertThat(DeclaredSettings.operator()).contains("FLOTILLA_OPERATOR_MODEL_NAMESPACES");
  }

  private static void assertBoundToOperator(Rendered rendered, Role role) {
    RoleBinding binding =
        rendered.all(RoleBinding.class).stream()
            .filter(b -> b.getMetadata().getName().equals(role.getMetadata().getName()))
            .filter(b -> b.getMetadata().getNamespace().equals(role.getMetadata().getNamespace()))
            .collect(onlyOne());
    assertThat(binding.getRoleRef().getKind()).isEqualTo("Role");
    assertThat(binding.getRoleRef().getName()).isEqualTo(role.getMetadata().getName());
    assertThat(binding.getSubjects())
        .singleElement()
        .satisfies(s -> isServiceAccount(s, "flotilla-operator"));
  }

  @Test
  void gatewayClusterRoleOnlyReadsAndNeverSecrets() {
    ClusterRole role = FlotillaChart.renderDefaults().one(ClusterRole.class, "flotilla-gateway");

    assertThat(grants(role.getRules()))
        .isEqualTo(
            Map.of(
                "flotilla.dev/tenants", READ,
                "flotilla.dev/loraadapters", READ,
                "flotilla.dev/modeldeployments", READ,
                "/pods", READ,
                "apps/deployments", READ,
                "apps/replicasets", READ));
  }

  @Test
  void byDefaultApiKeySecretsAreReadOnlyInTheReleaseNamespace() {
    Rendered rendered = FlotillaChart.renderDefaults();

    assertTenantKeyAccess(rendered, "flotilla", List.of(NAMESPACE));
    assertThat(env(rendered, "flotilla-gateway"))
        .containsEntry("FLOTILLA_GATEWAY_TENANT_SECRET_NAMESPACES", NAMESPACE);
    assertThat(env(rendered, "flotilla-operator"))
        .containsEntry("FLOTILLA_OPERATOR_TENANT_SECRET_NAMESPACES", NAMESPACE);
  }

  @Test
  void apiKeySecretsAreReadOnlyInTheListedNamespaces() {
    Rendered rendered = FlotillaChart.renderCustom();

    assertTenantKeyAccess(rendered, "prod-flotilla", List.of("tenant-keys", "partner-keys"));
    assertThat(env(rendered, "prod-flotilla-gateway"))
        .containsEntry("FLOTILLA_GATEWAY_TENANT_SECRET_NAMESPACES", "tenant-keys,partner-keys");
    assertThat(env(rendered, "prod-flotilla-operator"))
        .containsEntry("FLOTILLA_OPERATOR_TENANT_SECRET_NAMESPACES", "tenant-keys,partner-keys");
  }

  /**
   * In each namespace exactly one Role, reading Secrets and nothing else, bound to the gateway and
   * the operator; no such Role anywhere else.
   */
  private static void assertTenantKeyAccess(
      Rendered rendered, String prefix, List<String> namespaces) {
    List<Role> roles =
        rendered.all(Role.class).stream()
            .filter(r -> r.getMetadata().getName().equals(prefix + "-tenant-keys"))
            .toList();
    assertThat(roles)
        .extracting(r -> r.getMetadata().getNamespace())
        .containsExactlyElementsOf(namespaces);
    for (Role role : roles) {
      assertThat(grants(role.getRules())).isEqualTo(Map.of("/secrets", READ));
      RoleBinding binding =
          rendered.all(RoleBinding.class).stream()
              .filter(b -> b.getMetadata().getName().equals(role.getMetadata().getName()))
              .filter(b -> b.getMetadata().getNamespace().equals(role.getMetadata().getNamespace()))
              .collect(onlyOne());
      assertThat(binding.getRoleRef().getKind()).isEqualTo("Role");
      assertThat(binding.getRoleRef().getName()).isEqualTo(role.getMetadata().getName());
      assertThat(binding.getSubjects())
          .satisfiesExactlyInAnyOrder(
              s -> isServiceAccount(s, prefix + "-gateway"),
              s -> isServiceAccount(s, prefix + "-operator"));
    }
  }

  private static java.util.stream.Collector<RoleBinding, ?, RoleBinding> onlyOne() {
    return java.util.stream.Collectors.collectingAndThen(
        java.util.stream.Collectors.toList(),
        list -> {
          assertThat(list).hasSize(1);
          return list.get(0);
        });
  }

  private static Map<String, String> env(Rendered rendered, String deployment) {
    Map<String, String> env = new TreeMap<>();
    rendered
        .one(Deployment.class, deployment)
        .getSpec()
        .getTemplate()
        .getSpec()
        .getContainers()
        .get(0)
        .getEnv()
        .stream()
        .filter(e -> e.getValue() != null)
        .forEach(e -> env.put(e.getName(), e.getValue()));
    return env;
  }

  @ParameterizedTest
  @MethodSource("dev.flotilla.chart.FlotillaChart#bothRenders")
  void eachClusterRoleIsBoundToItsOwnServiceAccount(Rendered rendered) {
    assertThat(rendered.all(ClusterRole.class)).hasSize(2);
    assertThat(rendered.all(ClusterRoleBinding.class))
        .hasSize(2)
        .allSatisfy(
            binding -> {
              assertThat(binding.getRoleRef().getKind()).isEqualTo("ClusterRole");
              assertThat(binding.getRoleRef().getName()).isEqualTo(binding.getMetadata().getName());
              rendered.one(ClusterRole.class, binding.getRoleRef().getName());
              assertThat(binding.getSubjects())
                  .singleElement()
                  .satisfies(s -> isServiceAccount(s, binding.getMetadata().getName()));
            });
  }

  @ParameterizedTest
  @MethodSource("dev.flotilla.chart.FlotillaChart#bothRenders")
  void noRuleUsesAWildcardOrSomethingBeyondGroupsResourcesAndVerbs(Rendered rendered) {
    Stream<PolicyRule> rules =
        Stream.concat(
            rendered.all(ClusterRole.class).stream().flatMap(r -> r.getRules().stream()),
            rendered.all(Role.class).stream().flatMap(r -> r.getRules().stream()));

    assertThat(rules)
        .isNotEmpty()
        .allSatisfy(
            rule -> {
              assertThat(rule.getApiGroups()).isNotEmpty().noneMatch(s -> s.contains("*"));
              assertThat(rule.getResources()).isNotEmpty().noneMatch(s -> s.contains("*"));
              assertThat(rule.getVerbs()).isNotEmpty().noneMatch(s -> s.contains("*"));
              assertThat(rule.getResourceNames()).isNullOrEmpty();
              assertThat(rule.getNonResourceURLs()).isNullOrEmpty();
            });
    assertThat(rendered.all(ClusterRole.class))
        .allSatisfy(r -> assertThat(r.getAggregationRule()).isNull());
  }

  /** "group/resource" → verbs; fails when two rules grant the same resource. */
  private static Map<String, Set<String>> grants(List<PolicyRule> rules) {
    Map<String, Set<String>> grants = new TreeMap<>();
    for (PolicyRule rule : rules) {
      for (String group : rule.getApiGroups()) {
        for (String resource : rule.getResources()) {
          Set<String> previous = grants.put(group + "/" + resource, new TreeSet<>(rule.getVerbs()));
          assertThat(previous).as("%s/%s granted twice", group, resource).isNull();
        }
      }
    }
    return grants;
  }

  private static void isServiceAccount(Subject subject, String name) {
    assertThat(subject.getKind()).isEqualTo("ServiceAccount");
    assertThat(subject.getName()).isEqualTo(name);
    assertThat(subject.getNamespace()).isEqualTo(NAMESPACE);
  }
}
