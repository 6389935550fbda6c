"""handbook/: the product handbook of Kestrel, a hosted metrics and logs monitoring service."""

from datetime import date

from sample_docs.corpus import Doc

DOCUMENTS = (
    Doc(
        "handbook/getting-started.md",
        "Getting Started with Kestrel",
        "Priya Raman",
        date(2024, 2, 12),
        """
## What Kestrel does

Kestrel collects metrics and logs from your hosts, containers and services, stores them for
the retention period of your plan, and lets you chart them on dashboards and alert on them.
Everything starts with the Kestrel agent, a single static binary that runs on each host.

## Install the agent

The agent runs on Linux (x86-64 and arm64), macOS 13 or later and Windows Server 2019 or
later. On Linux, the install script adds the package repository, installs the agent and
starts it as a systemd service named kestrel-agent.

```
curl -fsSL https://get.kestrel.example/install.sh | sudo KESTREL_API_KEY=<key> sh
systemctl status kestrel-agent
```

On Kubernetes, install the Helm chart instead; it runs the agent as a DaemonSet with one pod
per node and a cluster agent that collects events from the API server.

```
helm repo add kestrel https://charts.kestrel.example
helm install kestrel-agent kestrel/agent --set apiKey=<key> --namespace monitoring
```

## API keys

An organisation owner creates API keys under Settings, then API Keys. Each key is either an
ingest key, which can only send data, or a read key, which can query data and manage
dashboards. Agents need an ingest key and nothing more. Keys never expire on their own, but
we recommend rotating them every 90 days; a rotated key keeps working for 24 hours so you
can roll it out without gaps.

## Your first dashboard

Within two minutes of starting, the agent reports the host metrics: CPU, memory, disk, network
and process counts, every 15 seconds. Open Dashboards, choose "Host overview" from the
templates, and pick your host from the host variable at the top. If no data appears after
five minutes, run `kestrel-agent diagnose`, which checks the key, the network path to the
intake endpoint and the clock skew (more than 60 seconds of skew makes the intake reject
points).

## Next steps

- Add integrations for PostgreSQL, Redis, NGINX and Kafka under Integrations.
- Create your first alert rule; see the Alerting guide.
- Invite teammates under Settings, then Members; the Starter plan allows three users.
""",
        ("onboarding", "agent", "install"),
    ),
    Doc(
        "handbook/plans-and-pricing.pdf",
        "Kestrel Plans and Pricing 2024",
        "Marcus Webb",
        date(2024, 3, 1),
        """
## Overview

Kestrel is sold in four plans: Starter, Team, Business and Enterprise. Every plan includes
the agent, all integrations, dashboards and alerting. Plans differ in how long data is
kept, how many users and alert rules an organisation may have, and in security and support
features. Prices on this sheet are in US dollars and apply from March 1, 2024.

## Starter

Starter is free for up to 5 hosts and 3 users. It keeps metrics for 15 days and logs for 3
days, allows 20 alert rules and sends notifications by email only. Support is through the
community forum. Starter organisations that exceed 5 hosts for more than 7 consecutive days
are asked to upgrade; no data is dropped in the meantime.

<<page>>

## Team

Team costs $29 per host per month billed monthly, or $24.65 per host per month billed
annually (a 15 percent discount). It includes unlimited users, 500 alert rules, metrics
retention of 13 months and logs retention of 30 days. Notifications can go to email, Slack,
Microsoft Teams, PagerDuty and webhooks. Support is by email with a first response within
one business day.

## Business

Business costs $49 per host per month billed monthly, or $41.65 billed annually. On top of
Team it adds SAML single sign-on and SCIM provisioning, audit logs kept for one year, logs
retention of 90 days, 2,000 alert rules and support with a first response within 4 hours,
24 hours a day, for urgent tickets.

<<page>>

## Enterprise

Enterprise is priced by contract, with a minimum of 200 hosts. It adds a dedicated
technical account manager, a 99.95 percent uptime SLA with service credits, custom
retention of up to 25 months for metrics and 1 year for logs, data residency in the EU or
US region of your choice, and a first response within 1 hour for urgent tickets.

## How hosts are counted

A host is any machine, virtual machine or Kubernetes node that runs the agent. Hosts are
counted every hour; the monthly bill uses the 99th percentile of the hourly counts, so a
short spike during an autoscaling event or a migration does not raise the bill. Containers
are not counted separately: up to 20 containers per host are included, and each further
container costs $0.002 per hour.

<<page>>

## Log volume and overage

Every host includes 5 GB of ingested logs per month, pooled across the organisation. Logs
beyond the pool cost $0.10 per GB on Team and $0.08 per GB on Business. Custom metrics are
included up to 200 per host; beyond that, 100 custom metrics cost $5 per month.

## Changing plans

Upgrades take effect immediately and are prorated to the day. Downgrades take effect at the
end of the billing period; data older than the new plan's retention is deleted 7 days after
the downgrade. Annual plans can be cancelled for a prorated refund within the first 30
days only.

## Discounts

Registered non-profit organisations and schools receive 50 percent off Team and Business.
Startups younger than two years with less than $5 million in funding receive Team free for
the first 12 months, up to 50 hosts.
""",
        ("pricing", "billing", "plans"),
    ),
    Doc(
        "handbook/data-retention.html",
        "Data Retention and Deletion",
        "Priya Raman",
        date(2024, 4, 18),
        """
## How long data is kept

Retention depends on the plan and on the kind of data. Metrics are stored at full
resolution (the interval they were sent at, usually 15 seconds) for 15 days. After that they
are rolled up: 1-minute averages, minimums and maximums are kept for 90 days, and 1-hour
rollups are kept for the rest of the plan's metrics retention (13 months on Team and
Business). Logs are kept whole for the plan's log retention: 3 days on Starter, 30 days on
Team, 90 days on Business.

## Traces and events

Traces are sampled at the agent and kept for 15 days on every plan. Events (deploys, config
changes, Kubernetes events) are kept for 13 months on paid plans and 15 days on Starter.

## Deleting data

An organisation owner can delete the data of a host, a service, or a time range from
Settings, then Data. Deletion is asynchronous: it is visible in queries within one hour and
complete in storage and in backups within 30 days. Backups are encrypted and kept for 35
days, which is why a deletion is only final after that window.

## Closing an account

When an organisation is closed, its data becomes unreadable at once and is purged within 30
days. An export of dashboards and alert rules in JSON is available for 14 days after
closing from the billing contact's email link.

## Legal holds

On Enterprise, a legal hold can be placed on an organisation's logs. Data under a hold is not
deleted at the end of its retention until the hold is lifted by two organisation owners.
""",
        ("retention", "privacy", "data"),
    ),
    Doc(
        "handbook/alerting.docx",
        "Alerting Guide",
        "Daniel Okafor",
        date(2024, 5, 7),
        """
## Alert rules

An alert rule is a query, a condition and a list of notification channels. Kestrel evaluates
every rule every 60 seconds over the query's window, which defaults to the last 5 minutes.
A rule has three states: OK, Pending and Firing. It moves to Pending the first time the
condition holds and to Firing when the condition has held for the rule's "for" duration,
which defaults to 5 minutes and can be set between 0 and 24 hours.

## Thresholds and no-data

A rule can have a warning threshold and a critical threshold; notifications say which one
was crossed. When a query returns no data for 10 minutes the rule goes to the No Data state;
by default No Data is silent, but it can be set to notify or to count as Firing, which is
the right choice for heartbeat metrics.

## Notification channels

Channels are email, Slack, Microsoft Teams, PagerDuty, Opsgenie and generic webhooks.
Webhooks receive a JSON body with the rule name, state, value, threshold and a link to the
chart, and are retried up to 5 times with exponential backoff starting at 10 seconds.
A channel that fails 50 times in a row is disabled and the organisation owners are emailed.

## Limits

Starter allows 20 alert rules, Team 500, Business 2,000. A single rule can group by up to
3 tags and produce at most 1,000 series; beyond that the rule is marked as too broad and
evaluation stops until the query is narrowed.

## Silences and maintenance windows

A silence mutes matching alerts for a fixed time between 5 minutes and 7 days. Maintenance
windows repeat on a schedule, for example every Sunday from 02:00 to 04:00 UTC. Alerts that
fire during a silence are recorded in the alert history but send nothing.

## Escalation

Escalation policies send a Firing alert that has not been acknowledged within a set time
to the next channel: for example, Slack at once, then PagerDuty after 15 minutes.
""",
        ("alerting", "notifications"),
    ),
    Doc(
        "handbook/sso-setup.md",
        "Setting Up Single Sign-On",
        "Daniel Okafor",
        date(2024, 6, 3),
        """
## Requirements

Single sign-on with SAML 2.0 is available on the Business and Enterprise plans. You need to
be an organisation owner in Kestrel and an administrator in your identity provider. Kestrel
is tested with Okta, Microsoft Entra ID (Azure AD), Google Workspace and OneLogin.

## Configure the identity provider

Create a SAML application with these values:

- Assertion Consumer Service URL: https://app.kestrel.example/sso/saml/acs
- Entity ID (audience): https://app.kestrel.example/sso/saml/metadata
- Name ID format: email address
- Attributes: email, firstName, lastName, and optionally groups

## Configure Kestrel

In Settings, then Security, then Single Sign-On, upload the identity provider's metadata XML
or paste its SSO URL and signing certificate. Click "Test login" before enabling: the test
runs in a new window and reports the attributes received. Enabling SSO does not sign anyone
out; users are asked to sign in through the identity provider on their next login.

## Enforcing SSO

When "Require SSO" is on, password logins are refused for everyone except up to two
break-glass owner accounts, which keep password plus two-factor login in case the identity
provider is down. We strongly recommend keeping at least one break-glass account.

## SCIM provisioning

SCIM 2.0 provisioning creates, updates and deactivates users from the identity provider.
Generate a SCIM token under Single Sign-On, then SCIM; the base URL is
https://app.kestrel.example/scim/v2. Deactivated users lose access within 60 seconds.
Groups sent over SCIM can be mapped to Kestrel roles: Viewer, Editor and Admin.
""",
        ("sso", "security", "saml"),
    ),
    Doc(
        "handbook/api-rate-limits.txt",
        "API Rate Limits",
        "Marcus Webb",
        date(2024, 1, 22),
        """
## Query API

The query API allows 1,000 requests per minute per organisation on Team, 3,000 on Business
and 10,000 on Enterprise. Starter organisations get 100 requests per minute. Limits are
counted over a sliding 60 second window and shared by every read key of the organisation.

## What happens at the limit

A request over the limit gets HTTP status 429 with a Retry-After header giving the number of
seconds to wait. Every response carries X-RateLimit-Limit, X-RateLimit-Remaining and
X-RateLimit-Reset headers, so clients can slow down before they hit the limit. The official
client libraries retry 429 responses automatically, up to 3 times.

## Ingest API

The intake endpoint accepts batches of up to 5 MB compressed or 50 MB uncompressed and at
most 10,000 points per request. Points with timestamps more than 1 hour in the past or 10
minutes in the future are dropped and counted in the kestrel.intake.dropped metric.

## Raising a limit

Business and Enterprise customers can ask support for a temporary raise, for example during
a migration, for up to 14 days.
""",
        ("api", "limits"),
    ),
    Doc(
        "handbook/dashboards.html",
        "Dashboards and Sharing",
        "Priya Raman",
        date(2024, 7, 15),
        """
## Building a dashboard

A dashboard is a grid of panels. Each panel runs one or more queries and draws them as a
time series, a bar chart, a single number, a table, a heatmap or a log stream. Panels refresh
every 30 seconds by default; the refresh interval can be set between 10 seconds and 1 hour.
A dashboard can hold up to 100 panels.

## Template variables

Variables such as host, service or env appear as drop-downs at the top of the dashboard and
are substituted into every query that uses them, written as $host. A variable can list its
values from a tag, so a new host shows up without editing the dashboard.

## Sharing

Dashboards are visible to every member of the organisation. A public link shares a read-only
copy with people outside it; public links expire after 30 days unless renewed, and can be
revoked at any time from the Share menu. Public links are disabled on organisations with
"Require SSO" turned on unless an owner allows them.

## Version history

Every save creates a version. The last 50 versions are kept and any of them can be restored
from the History panel; restoring creates a new version, so nothing is lost.
""",
        ("dashboards", "sharing"),
    ),
    Doc(
        "handbook/release-notes-2024.pdf",
        "Kestrel Release Notes 2024",
        "Marcus Webb",
        date(2024, 11, 4),
        """
## Kestrel 4.0 (January 2024)

Kestrel 4.0 moved metric storage to a new columnar engine. Queries over 30 days or more run
about 4 times faster, and dashboards with many panels load in half the time. The query
language gained the rate_per_second and histogram_quantile functions. The old v1 query
endpoint was deprecated and will be removed in 2025.

## Agent 7.2

The agent now collects process-level metrics with a CPU overhead under 1 percent on a
32-core host, and buffers up to 500 MB on disk while the intake is unreachable.

<<page>>

## Kestrel 4.1 (April 2024)

Kestrel 4.1 introduced log pipelines: parse, drop, mask and route rules applied at intake.
A mask rule replaces matches of a pattern, such as credit card numbers, before the log is
stored. Alert escalation policies arrived in the same release, as did Microsoft Teams
notifications.

## Fixes in 4.1

- Heatmap panels no longer drop buckets with a count of zero.
- Webhook retries now respect the Retry-After header returned by the receiver.
- Time range links copied from a dashboard keep the selected timezone.

<<page>>

## Kestrel 4.2 (August 2024)

Kestrel 4.2 added anomaly detection on any metric, using a seasonal model with daily and
weekly periods trained on the last 4 weeks of data. Anomaly alerts can be created from a
chart's menu. SCIM group mapping to roles became generally available.

## Kestrel 4.3 (October 2024)

Kestrel 4.3 added the EU data region in Frankfurt for Enterprise organisations, and
dashboard version history, which keeps the last 50 versions. The maximum "for" duration of
alert rules was raised from 1 hour to 24 hours.

## Deprecations

The v1 query endpoint will be switched off on June 30, 2025. Agent versions older than 6.0
stop being accepted by the intake on March 31, 2025.
""",
        ("release-notes", "changelog"),
    ),
)
