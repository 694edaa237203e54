/* gcp_types.h: the one list of GCP resource types.  X(n) names the type
 * "gcp.n" whose table is `const rtype_t gcp_n` (in a types_*.c file).  The
 * list feeds the declarations (gcp_res.h), the provider's registry
 * (gcp_provider.c, in this order), the unit tests' per-type checks
 * (tests/unit/test_gcp_types.c) and the lifecycle matrix
 * (tests/integration/gcp_types_matrix.sh reads the X(...) lines, one per
 * line, and runs tests/fixtures/types/<n>.lua for each). */
#ifndef PLINTH_GCP_TYPES_H
#define PLINTH_GCP_TYPES_H

#define GCP_TYPES(X)                                                                                         \
    X(compute_network)                                                                                       \
    X(compute_subnetwork)                                                                                    \
    X(compute_firewall)                                                                                      \
    X(compute_router)                                                                                        \
    X(compute_global_address)                                                                                \
    X(compute_instance)                                                                                      \
    X(compute_address)                                                                                       \
    X(project_service)                                                                                       \
    X(service_networking_connection)                                                                         \
    X(container_cluster)                                                                                     \
    X(container_node_pool)                                                                                   \
    X(sql_instance)                                                                                          \
    X(sql_database)                                                                                          \
    X(sql_user)                                                                                              \
    X(storage_bucket)                                                                                        \
    X(storage_bucket_iam_member)                                                                             \
    X(service_account)                                                                                       \
    X(service_account_iam_member)                                                                            \
    X(project_iam_member)                                                                                    \
    X(artifact_registry_repository)                                                                          \
    X(secret)                                                                                                \
    X(secret_version)                                                                                        \
    X(pubsub_topic)                                                                                          \
    X(pubsub_subscription)                                                                                   \
    X(logging_metric)                                                                                        \
    X(logging_project_sink)                                                                                  \
    X(dns_managed_zone)                                                                                      \
    X(dns_record_set)                                                                                        \
    X(kms_key_ring)                                                                                          \
    X(kms_crypto_key)                                                                                        \
    X(kms_crypto_key_iam_member)                                                                             \
    X(monitoring_notification_channel)                                                                       \
    X(monitoring_alert_policy)                                                                               \
    X(monitoring_uptime_check_config)                                                                        \
    X(api_resource)                                                                                          \
    X(iam_workload_identity_pool)                                                                            \
    X(iam_workload_identity_pool_provider)                                                                   \
    X(secret_manager_secret_iam_member)                                                                      \
    X(artifact_registry_repository_iam_member)                                                               \
    X(compute_router_nat)                                                                                    \
    X(cloud_run_v2_service)                                                                                  \
    X(vertex_ai_endpoint)                                                                                    \
    X(vertex_ai_tensorboard)                                                                                 \
    X(workbench_instance)                                                                                    \
    X(bigquery_dataset)                                                                                      \
    X(cloudbuild_trigger)

#endif
