package dev.flotilla.chart;

import static dev.flotilla.chart.FlotillaChart.NAMESPACE;
import static org.assertj.core.api.Assertions.assertThat;

import dev.flotilla.chart.FlotillaChart.Rendered;
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
    // Reads Tenants' key Secrets; creates and renews the mTLS Secrets (CA, gateway, operator,
    // each model's workers). Never deletes one: worker Secrets go with their ModelDeployment.
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

    assertThat(rendered.all(Role.class)).containsExactly(role);
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

    assertThat(rendered.all(Role.class)).isEmpty();
    assertThat(rendered.all(RoleBinding.class)).isEmpty();
  }

  @Test
  void gatewayClusterRoleOnlyReads() {
    ClusterRole role = FlotillaChart.renderDefaults().one(ClusterRole.class, "flotilla-gateway");

    assertThat(grants(role.getRules()))
        .isEqualTo(
            Map.of(
                "flotilla.dev/tenants", READ,
                "flotilla.dev/loraadapters", READ,
                "flotilla.dev/modeldeployments", READ,
                "/secrets", READ,
                "/pods", READ,
                "apps/deployments", READ,
                "apps/replicasets", READ,
                "discovery.k8s.io/endpointslices", READ));
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
