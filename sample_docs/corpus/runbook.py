"""runbook/: the engineering runbook of the team that operates Kestrel."""

from datetime import date

from sample_docs.corpus import Doc

DOCUMENTS = (
    Doc(
        "runbook/oncall-rotation.md",
        "On-Call Rotation",
        "Sofia Lindqvist",
        date(2023, 9, 4),
        """
## The rotation

Each of the three platform squads (Intake, Storage, Query) runs a weekly primary and
secondary rotation. Handoff is every Monday at 10:00 UTC in the #oncall-handoff channel:
the outgoing primary posts open incidents, silenced alerts and anything fragile.

## Expectations

- Acknowledge a page within 5 minutes, around the clock.
- Start working on it within 15 minutes; if you cannot, escalate to the secondary.
- Keep your laptop and a charged phone with you; the PagerDuty app must be able to ring.
- Do not ship risky changes on Friday afternoons during your shift.

## Escalation

If the primary does not acknowledge in 5 minutes, PagerDuty pages the secondary; after
another 10 minutes it pages the squad's engineering manager. Declare an incident for
anything customer-facing; see Incident Severity Levels for how to pick the severity.

## Compensation

On-call engineers receive $400 for each week as primary and $200 as secondary. Every page
handled between 22:00 and 07:00 local time earns a half day of time off in lieu, to be taken
within the following month.

## Swaps

Swap shifts in PagerDuty and post the swap in #oncall-handoff. Nobody is primary for more
than two weeks in a row, and new engineers shadow two full rotations before joining.
""",
        ("oncall", "pagerduty"),
    ),
    Doc(
        "runbook/incident-severity.docx",
        "Incident Severity Levels",
        "Sofia Lindqvist",
        date(2023, 10, 16),
        """
## Why severity matters

Severity sets who is paged, how often we communicate and whether a postmortem is required.
When unsure, pick the higher severity; downgrading later is cheap.

## SEV1

A full outage or data loss for many customers: the intake rejects data, the app is down, or
data is being lost or corrupted. Page the incident commander on duty at once. Post a status
page update within 15 minutes and then every 30 minutes until resolved. The VP of
Engineering is informed by the incident commander.

## SEV2

A major feature is broken or badly degraded for many customers, for example alerts
delayed by more than 10 minutes or queries failing for one region. Status page updates
every 60 minutes.

## SEV3

A minor feature is broken or a single customer is affected, with a workaround. No status
page update unless the customer asks; fix within 3 business days.

## SEV4

Cosmetic issues and internal tooling problems. Handled through the normal backlog.

## Postmortems

SEV1 and SEV2 incidents need a written postmortem within 5 business days, reviewed in the
weekly reliability meeting. Postmortems are blameless: they describe what the systems and
processes allowed, not who made a mistake. Each action item gets an owner and a due date.
""",
        ("incidents", "severity", "postmortem"),
    ),
    Doc(
        "runbook/postgres-failover.pdf",
        "PostgreSQL Failover Procedure",
        "Tomasz Nowak",
        date(2024, 1, 29),
        """
## Scope

This procedure covers the metadata database: a PostgreSQL 15 cluster managed by Patroni with
one primary and two synchronous replicas in three availability zones. It holds accounts,
dashboards and alert rules, not metric data. Patroni fails over automatically when the
primary is unreachable for 30 seconds; this page is for manual failover and for when the
automatic one did not happen.

## Symptoms

- Alert "metadata-db primary unavailable" is firing.
- The app returns HTTP 503 on login and dashboard saves, while charts still load.
- Patroni logs show "no action. I am a secondary and I am following a leader" on every node
  but no node reports itself as leader.

<<page>>

## Step 1: check the cluster state

Connect to any database node through the bastion and list the members:

```
ssh bastion.prod.kestrel.internal
sudo -u postgres patronictl -c /etc/patroni/patroni.yml list
```

Note the replication lag of each replica in megabytes. Only promote a replica whose lag
is 0 MB or, in an emergency, under 16 MB; anything more loses recent writes.

## Step 2: fail over

Run a manual failover to the healthiest replica, naming it as candidate:

```
sudo -u postgres patronictl -c /etc/patroni/patroni.yml failover --candidate pg-meta-2 --force
```

Patroni promotes the candidate, points the other replica at it and updates the DNS record
meta-db-primary.prod.kestrel.internal within 30 seconds.

<<page>>

## Step 3: verify

- Run patronictl list again: the candidate must show Role "Leader" and State "running".
- Check that the app's /healthz endpoint returns 200 and that a test dashboard can be saved.
- Check that the connection pool (PgBouncer) reconnected: SHOW POOLS must show no waiting
  clients after 2 minutes.

## Step 4: rebuild the old primary

Once the old primary is reachable, do not start it as a primary. Reinitialise it from the
new leader, which can take 40 minutes for the current 300 GB database:

```
sudo -u postgres patronictl -c /etc/patroni/patroni.yml reinit kestrel-meta pg-meta-1
```

<<page>>

## After the failover

Declare at least a SEV2 if the app returned errors for more than 5 minutes. Record the
failover time and the replication lag at promotion in the incident channel. If any writes
were lost, list the affected organisations from the last WAL position the old primary
archived, and tell Support before customers notice.

## Testing

We run a planned failover in staging every month and in production every quarter, on a
Tuesday at 14:00 UTC, announced a week ahead in #eng-announcements.
""",
        ("postgres", "database", "failover"),
    ),
    Doc(
        "runbook/disk-full-ingest-nodes.md",
        "Disk Full on Ingest Nodes",
        "Tomasz Nowak",
        date(2024, 3, 11),
        """
## Alert

"ingest-node disk above 85%" fires when the data volume of an ingest node passes 85 percent.
At 95 percent the node stops accepting writes and the load balancer drains it, which moves
its load onto the others and can make them fill up too. Act at the warning.

## Diagnose

```
ssh ingest-07.prod.kestrel.internal
df -h /var/lib/kestrel
sudo du -sh /var/lib/kestrel/{wal,segments,tmp}
```

A healthy node keeps the WAL under 20 GB. A large WAL means segments are not being flushed,
usually because the flush to object storage is failing; check `journalctl -u kestrel-ingest
--since "1 hour ago" | grep flush`.

## Fix

- If tmp/ holds more than 5 GB, an interrupted compaction left files behind: run
  `sudo kestrel-ingest cleanup-tmp`, which only deletes files older than 6 hours.
- If segments are not flushed, check the object storage credentials and run
  `sudo kestrel-ingest flush --all`.
- Run a manual compaction with `sudo kestrel-ingest compact --max-parallel 2`; it frees 20 to
  30 percent on a typical node and takes about 15 minutes.

## If nothing helps

Grow the volume by 50 percent from the cloud console and run `sudo xfs_growfs
/var/lib/kestrel`; the file system grows online. Open a ticket for the Storage squad to find
out why the node grew faster than its peers.
""",
        ("disk", "ingest", "storage"),
    ),
    Doc(
        "runbook/tls-certificate-rotation.txt",
        "TLS Certificate Rotation",
        "Amara Diallo",
        date(2023, 11, 20),
        """
## Where certificates live

Public endpoints (app, intake, api) use certificates issued by Let's Encrypt through
cert-manager in each Kubernetes cluster. They are valid for 90 days and renewed
automatically 30 days before expiry. Internal service certificates come from our own
Vault PKI and are valid for 72 hours.

## Alerts

"certificate expires in less than 21 days" means automatic renewal failed at least 9 times.
"certificate expires in less than 7 days" is a SEV2: customers' agents will refuse to send
data once the intake certificate expires.

## Check a certificate

```
kubectl -n ingress get certificate
kubectl -n ingress describe certificate intake-tls
echo | openssl s_client -connect intake.kestrel.example:443 2>/dev/null \\
    | openssl x509 -noout -enddate
```

## Force a renewal

```
kubectl -n ingress delete secret intake-tls
kubectl -n ingress get certificaterequest -w
```

The usual cause of failed renewals is the HTTP-01 challenge being blocked, for example by a
new WAF rule. Check the cert-manager logs with
kubectl -n cert-manager logs deploy/cert-manager --since=1h.
""",
        ("tls", "certificates", "kubernetes"),
    ),
    Doc(
        "runbook/deploy-and-rollback.html",
        "Deploying and Rolling Back",
        "Amara Diallo",
        date(2024, 2, 26),
        """
## Deploying

Services are deployed with the kctl tool from a merged commit on main. Deploys run Monday to
Thursday between 09:00 and 16:00 UTC; Friday deploys need a second approval from the
on-call primary.

```
kctl deploy query-api --version 2024.02.26-3 --env prod
```

## Canary

Every production deploy starts as a canary on 5 percent of traffic for 15 minutes. kctl
compares the canary's error rate and p99 latency with the stable pods. If the error rate is
more than 0.5 percentage points higher, or p99 latency more than 20 percent higher, the
canary is stopped and rolled back automatically.

## Rolling back

To roll back by hand, name the version to go back to:

```
kctl history query-api --env prod
kctl rollback query-api --to 2024.02.22-1 --env prod
```

A rollback skips the canary and completes in about 3 minutes. Database migrations are not
rolled back: every migration must be backward compatible with the previous release.

## Freezes

There is a deploy freeze from December 20 to January 3 and during the 48 hours around a
major customer event announced by the Customer Success team.
""",
        ("deploy", "rollback", "kctl"),
    ),
    Doc(
        "runbook/kafka-consumer-lag.md",
        "Kafka Consumer Lag",
        "Tomasz Nowak",
        date(2024, 8, 19),
        """
## What lag means here

Points accepted by the intake go to the Kafka topic intake-points (96 partitions) and are
consumed by the ingest writers. Lag is the number of messages written but not yet consumed.
Data in lag is safe but not yet queryable, so customers see gaps at the right edge of
their charts.

## Alerts

- Warning when the lag of the consumer group ingest-writers is above 2 million messages
  for 5 minutes (about 1 minute of data at peak).
- Critical, and a SEV2, above 10 million messages for 10 minutes.

## Diagnose

```
kafka-consumer-groups.sh --bootstrap-server kafka-1:9092 --describe --group ingest-writers
```

If the lag is on a few partitions only, one writer is stuck: find it in the CONSUMER-ID
column and restart its pod. If the lag grows on every partition, the writers cannot keep up.

## Scale the writers

```
kubectl -n ingest scale deploy/ingest-writer --replicas=48
```

Do not go above 96 replicas: there is one partition per consumer at most, and extra
replicas sit idle. Scale back to the usual 32 replicas once the lag is below 100,000.
""",
        ("kafka", "lag", "ingest"),
    ),
    Doc(
        "runbook/backup-and-restore.pdf",
        "Backup and Restore",
        "Sofia Lindqvist",
        date(2024, 5, 27),
        """
## What is backed up

The metadata database is backed up with pgBackRest: a full backup every Sunday at 02:00 UTC,
a differential backup every other night at 02:00 UTC, and continuous WAL archiving to
object storage. Metric and log segments are already stored in object storage with
versioning, so they are protected by keeping old object versions for 35 days.

## Targets

The recovery point objective (RPO) is 5 minutes for the metadata database and 15 minutes for
metric data. The recovery time objective (RTO) is 4 hours for a full region loss.

<<page>>

## Restoring the metadata database

Restores go to a new cluster, never over the running one. To restore to a point in time:

```
pgbackrest --stanza=kestrel-meta --type=time --target="2024-05-20 13:45:00+00" \\
    --delta restore
sudo systemctl start postgresql
```

Check the restored data before pointing the app at it: count the organisations and
compare with the value recorded in the nightly metric kestrel.meta.org_count.

## Restoring deleted metric data

A customer's deleted data can be restored within 35 days by restoring previous object
versions with the storage tool:

```
kestrel-storage restore --org <org-id> --from 2024-05-20T00:00Z --to 2024-05-21T00:00Z
```

<<page>>

## Restore drills

Every quarter the Storage squad restores the metadata database into the staging account
from the latest backup and measures the time taken. The last drill, in April 2024, took 2
hours and 10 minutes for a 290 GB database. Drill results are recorded in the reliability
wiki.

## Retention of backups

Backups are kept for 35 days and then expired by pgBackRest. Backups are encrypted with
AES-256; the keys are held in the cloud KMS and rotated yearly.
""",
        ("backup", "restore", "postgres"),
    ),
)
