# posagent messages, English. Every key here has its twin in zh-CN.ftl with the same
# placeholders (the test `catalogues_parse_and_match` checks it).

## Steps of a procedure, as shown on screen (in English, the journal's own names)
step-check-identity = check_identity
step-authenticate = authenticate
step-compare-binding = compare_binding
step-check-documents = check_documents
step-check-cooldown = check_cooldown
step-check-replacement = check_replacement
step-backup = backup
step-settle = settle
step-export-data = export_data
step-activate-new = activate_new
step-import-data = import_data
step-verify-import = verify_import
step-unbind-old = unbind_old
step-bind-new = bind_new
step-reboot = reboot
step-verify = verify
step-test-transaction = test_transaction
step-record = record
step-restore-binding = restore_binding
step-restore-parameters = restore_parameters

## What the terminal holds after a job stopped
state-unchanged = nothing on the terminal was changed
state-backed-up = the terminal is unchanged and its verified backup exists
state-settled = the batch is settled and the binding unchanged
state-data-moving = the old unit's binding is unchanged; the replacement holds part or all of its data
state-unbound = the old binding is removed and the new one not yet written
state-bound-unverified = the new binding is written but not yet verified
state-bound-verified = the new binding is written and verified
state-last-step = last completed step { $step }: { $what }

## Job states
jobstate-planned = planned
jobstate-running = running
jobstate-interrupted = interrupted
jobstate-done = done
jobstate-cancelled = cancelled
jobstate-aborted = aborted
jobstate-refused = refused

## Job errors
job-refused = refused at { $step }: { $reason }. Nothing was changed
job-busy = terminal { $serial } has an unfinished job { $job }
job-interrupted = interrupted at { $step }: { $reason }
job-stopped = stopped at your request before { $next }; { $terminal }
job-verification = verification failed at { $step }: { $what }
job-cancelled = not confirmed; nothing was changed
job-not-found = job { $job } not found
job-not-running = job { $job } is { $state }; only a running job can be resumed or aborted
job-order-unreadable = the job's order file { $file } cannot be read: { $reason }; put it back to resume
job-order-changed = the job's order file { $file } changed since the job started; restore it to resume, or abort the job
job-order-invalid-now = order { $order } in { $file } no longer validates
job-pulled-gone = pulled order { $order } is no longer kept here
job-pulled-changed = pulled order { $order } changed since the job started
order-unsigned-refused = profile { $profile } takes only orders signed by the provider ([orders] require_signed), and { $file } is a local file; pull the order with `posagent orders pull` and give its id. Nothing was changed
order-other-terminal = order { $order } was issued for terminal { $expected }, but terminal { $serial } is connected; nothing was changed
order-already-done = order { $order } was already carried out (job { $job }); an order is executed once. Nothing was changed

## Operations
op-rebind-card = rebind-card
op-rebind-account = rebind-account
op-rebind-phone = rebind-phone
op-unbind = unbind
op-migrate = migrate
op-restore = restore

## Journal
phase-intent = intent
phase-done = done
phase-failed = failed
detail-done-before = done before
detail-reconnected = terminal reconnected; running the step again

## Errors as printed
error-line = error: { $message }
help-line = help: { $help }
help-check-permissions = check the directory's permissions
help-profile-invalid = fix the profile file, or remove it to use the built-in one
help-profile-unknown = run `posagent profiles` to see the names
help-profile-unreadable = replace it with a plain TOML file, or remove it to use the built-in profile
help-receipt-out = name a writable place with --out FILE.html
help-order-check = fix the file; `posagent order check` lists every problem

## Jobs
plan-heading = Job { $job } — { $operation } of order { $order } on terminal { $terminal }
plan-replacement = replacement unit: { $serial }
plan-steps = steps: { $steps }
plan-confirm = All checks passed. Carry out these changes?
orders-file-invalid = { $file }: not valid:{ $problems }
pulled-order-invalid = pulled order { $order } is not valid:{ $problems }
order-wrong-operation = order { $order } is a { $operation } order, not { $wanted }
orders-file-several = { $file } holds { $count } orders; a job takes one (use `posagent run` for plans)
job-where = give { $flag } P, or { $field } in the order so the terminal can be found
outcome-heading = Job { $job } { $verb }: { $operation } of order { $order } on { $terminal } — { $state }
outcome-backup = backup: { $file }
outcome-test = test transaction: { $fen } fen, auth { $auth }, RRN { $rrn }
outcome-moved = transactions moved and verified: { $count }
outcome-queued = queued for the provider: submission { $submission } (`posagent queue show` lists it)
outcome-receipt = receipt to print and sign: { $file }
outcome-receipt-failed = receipt not written: { $reason }
    {"  "}`posagent jobs receipt { $job } --out FILE.html` writes it elsewhere
verb-finished = finished
verb-aborted = aborted and rolled back
verb-resumed = resumed and finished
dry-run-done = Dry run: every check passed; nothing was changed and no job was recorded.
dry-run-would-change = would change
col-job = JOB
col-operation = OPERATION
col-terminal = TERMINAL
col-state = STATE
col-order = ORDER
col-step = STEP
jobs-none = no jobs yet
job-not-found-prefix = job { $job } not found (or the prefix is ambiguous)
job-show =
    Job { $job }
    {"  "}{ $operation } of order { $order } ({ $file }), profile { $profile }
    {"  "}terminal { $terminal }, replacement { $replacement }
    {"  "}state { $state } ({ $error })
    {"  "}started { $started } by { $technician }
job-show-submission = submission { $submission }: { $state }
job-show-rejected = rejected: { $reason } [{ $code }]
    {"  "}way back: `posagent restore --port P { $backup }` from the job's backup, or a corrected order; `posagent queue retry { $submission }` once the cause is gone
receipt-written = Receipt of job { $job } written to { $file } (open it in a browser to print)
audit-intact = audit trail intact: { $records } record(s), every link checks
audit-broken = audit trail BROKEN at record { $record }: { $reason }

## --help: commands (cmd-<command>-<subcommand>) and global options (cmd--<option>)
cmd = Offline field agent that rebinds, unbinds and migrates payment terminals over USB serial
cmd-devices = Serial ports with USB VID:PID, serial number and the matching profile
cmd-inspect = Identity and current binding of a terminal (numbers masked)
cmd-order = Work orders
cmd-order-check = Validate a work order file offline, every field, no device needed
cmd-orders = Work orders the provider issued: pull them while online, list and show them
cmd-orders-pull = Fetch the orders the provider issued to this technician, verified and kept offline
cmd-orders-list = The pulled orders, soonest to expire first (the default)
cmd-orders-show = One pulled order, numbers masked
cmd-support-bundle = A zip for the support desk: logs, the job and queue lists, configuration, versions and serial ports; numbers masked, no secret in it
cmd-config = Where settings live and what they are
cmd-config-path = Where the configuration file, the data and the profile overrides are (the default)
cmd-config-show = The configuration as read, file paths resolved
cmd-config-init = Write a commented config.toml to fill in
cmd-profiles = Provider profiles
cmd-profiles-list = List the profiles (the default)
cmd-profiles-show = Show one profile in full
cmd-backup = Encrypted backup of a terminal's binding, parameters and transaction log
cmd-backup-verify = Check an archive's password, checksums and manifest, without a device
cmd-backup-list = The recorded backups
cmd-restore = Put a backed-up binding back on a terminal
cmd-rebind = Change the bound card, account or phone number
cmd-unbind = Unbind a terminal (settling first)
cmd-migrate = Move a terminal's data to a replacement unit and unbind the old one
cmd-run = Run a plan of orders (CSV or TOML) over many terminals
cmd-jobs = The job journal
cmd-jobs-list = Every job, newest first
cmd-jobs-show = One job with its journal and submission
cmd-jobs-receipt = Write the job's receipt to print and sign: a bilingual A4 page (HTML, opens offline in any browser) with the change before → after (masked), the steps, the backup, the test transaction, the provider's answer and lines to sign. Jobs write one themselves under the data directory; run this again after `sync` to show the provider's receipt
cmd-jobs-resume = Carry on an interrupted job from its journal
cmd-jobs-abort = Roll an unfinished job back to its backup
cmd-queue = The outbox of submissions for the provider
cmd-queue-list = Every submission, newest first
cmd-queue-show = One submission: state, attempts, the provider's answer, the masked payload
cmd-queue-retry = Queue a rejected or dead submission again
cmd-sync = Deliver queued submissions to the provider
cmd-audit = The tamper-evident audit trail
cmd-audit-verify = Check the hash chain and name the first bad record
cmd-sim = Simulated terminal and provider, for training and tests
cmd-sim-terminal = A simulated terminal on a pseudo-terminal or an existing port
cmd-sim-provider = A simulated provider serving the sync API over TLS
cmd-demo = A full migration against simulated terminals and provider (--json: one document per stage)
cmd-completions = Shell completion script for SHELL, on stdout
cmd-manpage = The manual page (roff) on stdout, or with --dir every page: posagent(1) and one per command, posagent-rebind(1) and so on
cmd--json = One JSON document on stdout (JSON lines for streams) instead of text
cmd--home = Data directory (database, backups, config, profile overrides)
cmd--verbose = Log to stderr too: -v events, -vv details (the log file in the data directory always gets them; POSAGENT_LOG sets the filter)
cmd--quiet = Quiet: no step lines, progress or notes on stderr; results and errors only
cmd--lang = Language of messages: en or zh-CN (else POSAGENT_LANG, else the system locale)
help-heading-commands = Commands
help-flag-help = Print help
help-flag-version = Print version
help-heading-usage = Usage:
help-heading-arguments = Arguments
help-heading-options = Options
lang-unknown = '{ $value }' is not a language posagent speaks; use en or zh-CN

## Terminals and ports
help-terminal-unavailable = check the cable and the port name (`posagent devices` lists ports), then try again
help-wrong-secret = check the operator secret; repeated failures lock the terminal
help-locked-out = wait for the lockout to end; do not retry with guesses
help-not-genuine = check the secret; if it is right, stop: the device may not be genuine
help-terminal-refused = see the terminal's reason above
help-another-unit = plug the right terminal back in, then resume
help-terminal-not-found = connect it, or name its port with --port; extra places to look can be given in POSAGENT_PORTS (globs separated by ':', ';' on Windows)
help-terminal-faulty = try again; if it repeats, the terminal or cable is faulty
ports-unlisted = cannot list serial ports: { $reason }
col-port = PORT
col-usb-id = USB ID
col-manufacturer = MANUFACTURER
col-serial-no = SERIAL NO.
col-profile = PROFILE
ports-none = no serial ports found; check the cable and that you are in the dialout group
serial-not-found = no terminal with serial { $serial } answers on the { $ports } port(s) looked at
help-serial-not-found = check the cable; `posagent devices` lists the ports; more places to look go in POSAGENT_PORTS
no-terminal-found = no terminal answers on any port
help-no-terminal-found = check the cable and `posagent devices`; name the port with --port P
using-terminal = Using terminal { $serial } ({ $vendor } { $model }) on { $port }
found-terminal = { $port }  USB { $usb }  serial { $serial }  { $vendor } { $model }
pick-prompt = Several terminals answer; which one?
pick-failed = cannot ask which terminal: { $reason }
pick-none = no terminal chosen; nothing was done
several-terminals = { $count } terminals answer:
    {"  "}{ $list }
help-several-terminals = choose one with --port P or --serial SN
field-status = Status
field-merchant = Merchant
field-card = Card
field-account = Account
field-phone = Phone
field-link = Link
field-terminal = Terminal
field-log = Log
card-line = { $pan }  { $holder }  exp { $expiry }
link-line = { $out } bytes out, { $in } in, { $frames } frames, { $retransmissions } retransmission(s), { $reconnects } reconnect(s), { $seconds } s
terminal-line = { $vendor } { $model }  serial { $serial }  firmware { $firmware }
log-line = { $transactions } transaction(s), { $unsettled } unsettled

## Files and secrets
what-order-file = order file
what-evidence-file = evidence file
what-backup-archive = backup archive
what-order-key-file = order key file
what-log-file = log file
what-agent-key-file = agent key file
what-client-key = client key
what-config-file = configuration file
what-secret-file = { $what } file
what-operator-secret = operator secret
what-backup-password = backup password
what-new-backup-password = new backup password
what-repeat-backup-password = repeat the new backup password
filekind-fifo = a FIFO (named pipe)
filekind-device = a device
filekind-socket = a socket
filekind-directory = a directory
filekind-special = a special file
input-not-regular = { $what } { $path }: { $kind }, not a regular file; give a plain file
input-too-large = { $what } { $path }: larger than the limit of { $limit } bytes
input-unstable = { $what } { $path }: its size changed while it was read, or it is a pseudo-file (/proc, /sys)
input-io = cannot read { $what } { $path }: { $reason }
secret-file-empty = { $what } file { $file } is empty
secret-prompt = { $what }:{" "}
secret-prompt-failed = cannot read the { $what }: { $reason }
secret-missing = no { $what } given
help-secret-missing = pass { $flag } FILE or set { $env }; it is never taken from the command line
passwords-differ = the two backup passwords differ; nothing was done
help-passwords-differ = type the same password twice
interrupt-first = stopping after the current step (press Ctrl-C again to quit now)…
interrupt-second = quitting now; the journal keeps every step done
runtime-failed = cannot start the network runtime: { $reason }
order-check-valid = { $file }: { $orders } order(s), all valid
order-check-invalid = { $file }: { $problems } problem(s) in { $orders } order(s)

## Plans (posagent run)
plan-order-twice = { $file }: order { $order } appears twice
plan-order-no-serial = { $file }: order { $order } has no expect.serial; a plan finds each terminal by its serial number
plan-terminal-absent = terminal { $serial } did not answer on any port
plan-replacement-absent = replacement unit { $serial } did not answer on any port
plan-confirm-run = Carry out { $count } order(s) of { $file } on the terminals found?
pulled-not-valid = not valid: { $problems }
pulled-left-alone = left alone: { $reason }
pulled-orders = pulled orders
pulled-none-connected = no pulled order's terminal is connected
status-started = started
status-done = done
status-skipped = skipped
status-failed = failed
status-planned = planned
run-line-failed = FAILED: { $reason }
col-result = RESULT
col-note = NOTE
run-summary = { $done } done, { $skipped } already done, { $failed } failed
run-receipts = { $count } receipt(s) to print and sign in { $dir } (one per job, named by job id)
run-failed = { $failed } of { $total } order(s) failed
help-run-failed = fix what each names, then run the same plan again: finished orders are skipped and interrupted ones resumed
run-dry = Dry run: nothing was changed and no job was recorded.
run-no-terminal-on = no terminal on { $port }: { $reason }
run-dry-failed = { $failed } of { $total } order(s) would fail
help-run-dry-failed = fix what each names (connect missing terminals: `posagent devices`), then check again

## Backups
help-backup-io = check the path, free space and permissions
help-backup-password = check the backup password (--password-file or POSAGENT_BACKUP_PASSWORD)
help-backup-exists = pass --force to replace it, or choose another file; a new backup password needs at least 12 characters
help-backup-damaged = do not restore from this archive; use another backup of the terminal
backup-needs-out = backup needs --out FILE.zip
transfer-reading-terminal = reading terminal
backup-written = Backup of { $serial } written and verified: { $file }
    {"  "}{ $size } bytes, SHA-256 { $sha256 }
    {"  "}{ $transactions } transaction(s), { $params } parameter(s)
backup-valid = { $file }: valid. Backup of { $serial } ({ $vendor } { $model }) taken { $taken } by { $technician }; { $entries } entries, every checksum matches; { $transactions } transaction(s)
col-id = ID
col-taken = TAKEN
col-transactions = TXNS
col-file = FILE
backups-none = no backups recorded yet
confirm-no-terminal = this change needs confirmation and there is no terminal to ask on
help-confirm-yes = pass --yes to confirm
not-confirmed = not confirmed; nothing was changed
restore-other-terminal = { $file } is a backup of terminal { $expected }, but the terminal on { $port } is { $serial }
help-restore-other-terminal = connect the right terminal, or pass --to-replacement to put this binding on a replacement unit
restore-heading = Terminal { $serial } — changes the restore will make:
restore-matches = binding already matches the backup
restore-confirm = Back up what is there now, then restore the binding and { $params } parameter(s) from the backup?
verb-restored = restored
backup-exists = { $file } already exists
backup-weak-password = the backup password must be at least { $min } characters
backup-not-archive = { $file }: not a complete zip archive (truncated, or not a posagent backup)
backup-wrong-password = { $file }: wrong password
backup-entry-missing = { $file }: entry { $entry } is missing
backup-entry-altered = { $file }: entry { $entry } has been altered or is damaged ({ $what })
backup-entry-unlisted = { $file }: entry { $entry } is not listed in the manifest
backup-entry-unencrypted = { $file }: entry { $entry } is not AES-256 encrypted
backup-unknown-format = { $file }: archive format version { $found } is not known to this posagent (it reads version { $known })
backup-not-recorded = the backup was written but could not be recorded, so it was removed: { $reason }
backup-entry-invalid = { $file }: { $entry } is invalid: { $reason }
backup-too-many-entries = holds { $count } entries; at most { $max } are accepted
backup-duplicate-names = two entries have the same name
backup-listed-twice = lists entry { $entry } twice
backup-too-large = its entries hold { $total } bytes in all; at most { $max } are accepted
backup-size-differs = its size differs from the manifest
backup-entry-too-large = { $entry } holds { $size } bytes; at most { $max } are accepted
backup-line-too-long = line { $line } is longer than { $max } bytes
backup-bad-line = line { $line }: { $reason }
backup-digest-differs = size or SHA-256 differs from the manifest

## Sync
help-sync-setup = fix the setting or file named; nothing was sent
help-sync-unreachable = submissions stay queued; run `posagent sync` again when a network is back, or keep `posagent sync --watch` running
help-sync-untrusted = nothing was sent and submissions stay queued; check --provider-ca, the provider's certificate and this laptop's clock
help-sync-refused = nothing was marked sent; check the client certificate and the agent key file with the provider
help-sync-store = the queue is unchanged
sync-no-provider = no provider to sync with
help-sync-no-provider = give --provider https://HOST[:PORT] or set url in the [provider] table of config.toml
sync-no-agent-key = no agent key to sign deliveries with
help-sync-no-agent-key = give --agent-key-file FILE (or POSAGENT_AGENT_KEY_FILE), or set agent_key_file in [provider]
config-range = { $file }: { $field } must be { $min } to { $max }
sync-connected = connected to { $url }
sync-progress = accepted { $accepted }, rejected { $rejected }, to retry { $retried }
sync-delivered = delivered: accepted { $accepted }, rejected { $rejected }, to retry { $retried }, dead { $dead }
sync-waiting = waiting for retries due { $until }
sync-still-watching = { $error }; still watching
sync-stopping = stopping after the batch in flight (press Ctrl-C again to quit at once)
cannot-open = cannot open { $file }: { $reason }
sync-busy = another `posagent sync` is delivering from this data directory
help-sync-busy = let it finish, or stop it (Ctrl-C) and run this again
sync-summary = Synced with { $url }: { $accepted } accepted, { $rejected } rejected, { $retried } to retry, { $dead } dead
    Queue: { $pending } pending, { $queue_accepted } accepted, { $queue_rejected } rejected, { $queue_dead } dead
sync-next-retry = Next retry due { $at }
sync-orders-pulled = Orders: { $count } pulled and verified (`posagent orders` lists them)
sync-refused-some = { $rejected } submission(s) were refused by the provider and { $dead } ran out of retries
help-sync-refused-some = `posagent queue` lists them with the provider's reason; `posagent jobs show JOB` gives the way back
sync-left = { $count } submission(s) are still queued for a later retry
help-sync-left = run `posagent sync` again later, or keep `posagent sync --watch` running

## Queue
submission-not-found = submission { $submission } not found (or the prefix is ambiguous); `posagent queue` lists them
col-submission = SUBMISSION
col-attempts = ATTEMPTS
col-kind = KIND
col-created = CREATED
queue-empty = the queue is empty
submission-show = Submission { $submission } ({ $kind }) for job { $job }, order { $order }
    {"  "}state { $state }, { $attempts } attempt(s), next { $next }
    {"  "}idempotency key { $key }
submission-reason = provider's reason: { $reason }
submission-code = provider's code: { $code }
submission-receipt = receipt: { $receipt }
submission-payload = payload (sensitive fields sealed, numbers masked):
submission-not-retryable = submission { $submission } is { $state }; only rejected or dead submissions can be retried
submission-requeued = submission { $submission } is queued again
outbox-pending = pending
outbox-sending = sending
outbox-accepted = accepted
outbox-rejected = rejected
outbox-dead = dead

## Pulled orders
orders-no-keys = no order keys to check the provider's signatures with
help-orders-no-keys = list the provider's public order key files in order_key_files in the [provider] table of config.toml
orders-pulled = { $count } order(s) pulled for { $technician } and verified
orders-pulled-line = { $order }  { $operation }  terminal { $terminal }
orders-refused-line = refused { $order }: { $reason }
col-valid-until = VALID UNTIL
pulled-executed = executed
pulled-expired = expired
pulled-waiting = pulled
pulled-due-today = { $state } (due today)
orders-none = no pulled orders; `posagent orders pull` fetches them
orders-not-found = no pulled order { $order }
help-orders-not-found = `posagent orders` lists them
orders-show = Order { $order } for { $technician }, issued { $issued } valid until { $until }, signed with key { $key }

## Configuration, support bundle, profiles
no-home = cannot determine a data directory (no HOME?); set POSAGENT_HOME or pass --home DIR
config-not-written = { $file }  (not written yet: `posagent config init`)
config-file-label = configuration
config-data-label = data
config-profiles-label = profiles
config-show-failed = cannot show the configuration: { $reason }
file-exists = { $file } already exists
help-config-exists = pass --force to replace it, or edit it
help-file-exists = pass --force to replace it, or choose another name
cannot-write = cannot write { $file }: { $reason }
config-written = wrote { $file }; uncomment what applies
support-written = wrote { $file } ({ $count } files): send it to your support desk
col-name = NAME
col-provider = PROVIDER
col-cooldown = COOLDOWN
cooldown-days = { $days }d

## Transfers
transfer-backup = backup
transfer-export = export
transfer-import = import
transfer-verify = verify
transfer-parameters = parameters

## Demo
demo-cannot-start = demo: cannot start `posagent { $command }`: { $reason }
demo-bad-announcement = it announced { $line }
demo-no-field = demo: a simulator did not announce its { $field }
demo-cannot-write = demo: cannot write { $file }: { $reason }
demo-no-merchant = demo: the simulated unit has no merchant bound
demo-stopped = demo stopped; every process it started was stopped too
demo-data-dir = Demo data directory: { $dir }
demo-started = Started: old unit { $old } on { $old_port }, blank replacement { $new } on { $new_port }, provider at { $url }
demo-pulling = Pulling the work order the provider issued:
demo-not-pulled = demo: the provider's order was not pulled
demo-order-invalid = demo: the provider's order did not validate
demo-migrating = Migrating { $old } → { $new } (order { $order }):
demo-delivering = Delivering the submission to the provider:
demo-finished = Demo finished: every step done and verified, processes stopped.
    {"  "}backup: { $backup }
    {"  "}password file: { $password_file } (try `7z l { $backup }` or `posagent backup verify { $backup } --password-file { $password_file }`)
    {"  "}provider receipt: { $provider_receipt }
    {"  "}receipt to print and sign: { $receipt }
    {"  "}data kept in { $home } — look around with `POSAGENT_HOME={ $home } posagent jobs show { $job }`; delete it when done

## Job steps: refusals and verification
value-masked = (masked)
value-hidden-differs = (differs in hidden digits)
value-nothing = nothing
mismatch-field = { $field }: order says { $order }, terminal has { $terminal }
step-not-in-plan = { $step } is not a step of { $operation }
refused-other-terminal = this job is for terminal { $expected }, but { $serial } is connected
migrate-needs-replacement = a migration needs the replacement's port (--to)
refused-already-unbound = the terminal is already unbound
refused-binding-mismatch = the terminal does not match the order: { $problems }
refused-document = document { $file } cannot be read: { $reason }
refused-same-card = card { $card } is already the bound card
refused-card-cooldown = card { $card } was unbound on { $unbound }; profile { $profile } allows binding it again from { $from }
refused-clear-until = checks.card_cooldown_clear_until '{ $value }' is not a YYYY-MM-DD date
refused-provider-cooldown = the provider says merchant { $mid }'s settlement-card cooldown runs until { $from }; the change is allowed from then
cooldown-by-agent = this agent changed it
cooldown-by-terminal = the terminal reports it bound
refused-merchant-cooldown = merchant { $mid }'s settlement card changed on { $last } ({ $who }); profile { $profile } allows the next change from { $from }
refused-cooldown-unknown = the terminal does not say when its settlement card was bound, so profile { $profile }'s { $days }-day cooldown for merchant { $mid } cannot be checked offline; confirm with the provider that a change is allowed now
refused-no-replacement = the order names no replacement unit
refused-no-activation-code = replacement.activation_code is missing; ask the provider for the unit's activation code
refused-replacement-bound = replacement unit { $serial } is already { $status } (MID { $mid }); use a blank unit or unbind it first
cannot-create = cannot create { $dir }: { $reason }
verify-unsettled = { $count } transaction(s) still unsettled after settling
verify-log-differs = new unit holds { $records } record(s) with SHA-256 { $sha256 }, old unit had { $expected_records } with { $expected_sha256 }
verify-duplicates = duplicate transactions on the new unit
verify-old-still-bound = the old unit is still bound
verify-field-differs = { $field }: reads { $reads }, expected { $expected }
abort-too-late = the old unit was already unbound and the new one holds its data; finish the migration with `posagent jobs resume { $job }`
verify-restore-readback = the terminal does not read back the backed-up binding
restore-archive-changed = the archive { $file } changed since the restore began; put the original back to resume, or abort the job
restore-archive-unreadable = cannot read the archive: { $reason }
restore-other-unit = the archive is of terminal { $expected }, but { $serial } is connected
restore-readback-differs = the terminal reads back differently ({ $fields })
restore-no-backup = the restore has no backup of what it overwrote

## Binding fields in a list of changes (English: the names JSON uses)
diff-status = status
diff-mid = mid
diff-tid = tid
diff-merchant-name = merchant_name
diff-card = card
diff-account = account
diff-phone = phone
diff-card-or-account = card/account

## Library errors: ports, terminals, link
ports-bad-pattern = { $env }: '{ $glob }' is not a valid pattern: { $reason }
ports-serial-absent = terminal { $serial } answers on none of the ports looked at ({ $looked })
terminal-unavailable = terminal at { $port } is unavailable: { $reason }
terminal-refused = the terminal refused { $command }: { $reason }
terminal-wrong-secret = wrong operator secret: the terminal refused it ({ $left } attempt(s) left before lockout)
terminal-locked-out = the terminal is locked after repeated wrong secrets; try again in { $seconds } s
terminal-not-genuine = the terminal could not prove it knows the operator secret; it may not be genuine, or the secret is wrong
terminal-another-unit = { $port } now leads to terminal { $found }, not { $expected }; reconnect { $expected } and try again
terminal-invalid = the terminal sent invalid data: { $reason }
terminal-transfer-failed = { $object } transfer failed verification: { $what }
link-timeout = the terminal did not answer { $command } after { $attempts } attempts
link-busy = the terminal stayed busy for { $command }
link-stalled = bulk transfer stalled at byte { $offset } of { $total }
link-protocol = protocol error: { $reason }
port-closed = the port closed (cable unplugged or device reset)
port-open-failed = cannot open serial port { $port }: { $reason }
port-io = serial port I/O error: { $reason }
model-invalid-field = field { $field } is invalid: { $reason }

## Library errors: orders, signatures, provider, store
auth-malformed = order { $order }: { $reason }; it cannot be checked, so nothing was changed
auth-unknown-key = order { $order } is signed with key { $key }, which is not one of the provider's order keys configured here (provider.order_key_files); nothing was changed
auth-bad-signature = order { $order }: the provider's signature does not verify — the order was altered or is not from the provider; nothing was changed
auth-key-not-valid = order { $order } was issued at { $issued }, outside the validity of key { $key }; nothing was changed
auth-expired = order { $order } is valid until { $until }, and this laptop's clock says { $now }; ask the provider for a new order. Nothing was changed
auth-not-yet-valid = order { $order } is issued from { $issued }, later than this laptop's clock ({ $now }); check the clock. Nothing was changed
auth-other-technician = order { $order } is issued to technician { $issued_to }, not to { $technician }; nothing was changed
sync-unreachable = cannot reach the provider at { $url }: { $detail }
sync-untrusted = the provider at { $url } is not trusted: { $detail }
sync-refused = the provider at { $url } refused this agent: { $detail }
store-too-new = database { $file } has schema version { $found }, newer than this posagent knows ({ $known }); use the newer posagent that wrote it
store-no-dir = cannot create data directory { $dir }: { $reason }
store-disk-full = database { $file }: the disk is full; free some space and try again
store-failed = database { $file }: { $reason }
profile-invalid = profile { $file }: { $reason }
profile-unknown = no profile named '{ $name }'
profile-dir-unreadable = cannot read profile directory { $dir }: { $reason }
receipt-write-failed = cannot write the receipt { $file }: { $reason }
seal-key = local key { $file }: { $reason }
seal-open = sealed data is damaged or was sealed with another key
orderfile-unknown-type = { $file }: unknown order file type; use a .toml file (one order or [[order]] tables) or a .csv file
orderfile-empty = { $file }: holds no orders

## Field values (order check): what is wrong with a value
domain-empty = is empty
domain-bad-char = contains { $char }, which is not allowed here (use ASCII digits{ $hint })
domain-length = has { $got } characters, expected { $expected }
domain-check-digit = fails the { $name } check digit
domain-birth-range = has a birth date ({ $birth }) outside 1800-01-01 .. { $today }
domain-bad-name-char = contains { $char }, which is not allowed; names take CJK or Latin letters, spaces and the middle dot ·
domain-contains = contains { $char }
domain-too-long = has { $count } characters, at most { $max } allowed
hint-none = {""}
hint-with-x-allowed-last = , with X allowed as the last character
hint-letters-ah-jn-p = {" "}and the letters A-H J-N P Q R T U W X Y
hint-names-take-cjk-latin = ; names take CJK or Latin letters, spaces and the middle dot ·
hint-ascii-letters = {" "}and ASCII letters
hint-optionally-prefixed-by-86 = , optionally prefixed by +86 or 0086
len-11-digits = 11 digits
len-18-characters = 18 characters
len-2-40-characters = 2 to 40 characters
len-16-19-digits = 16 to 19 digits
len-8-32-digits = 8 to 32 digits
len-15-digits = 15 digits
len-8-letters-digits = 8 letters or digits
len-12-digits = 12 digits
rule-all-zeros-card-number = is all zeros, which is no card number
rule-looks-like-spreadsheet-scientific = looks like spreadsheet scientific notation (e.g. 6.22202E+18); the digits are lost, re-enter the number as text
rule-ends-0-spreadsheet-number = ends in '.0' as a spreadsheet number would; re-enter the number as text
rule-all-zeros-account-number = is all zeros, which is no account number
rule-starts-with-bare-86 = starts with a bare 86; write the country code as +86 or 0086, or leave it out
rule-not-china-mobile-number = is not in a China mobile number range
rule-old-15digit-id-not = is an old 15-digit ID, which is not accepted; ask for the 18-character ID
rule-area-code-starting-with = has an area code starting with 0, which does not exist
rule-birth-date-that-does = has a birth date that does not exist
rule-have-digits-positions-3 = must have digits in positions 3 to 8 (the administrative division code)
rule-bound-unbound-active = must be one of bound, unbound, active
rule-rebindcard-rebindaccount-rebindphone-unbind = must be one of rebind-card, rebind-account, rebind-phone, unbind, migrate
rule-expired-lost-damaged-bankchange = must be one of expired, lost, damaged, bank-change, device-replaced, business-change, compliance, data-migration, customer-request, other
rule-sms-code-new-number = must be sms (code to the new number) or counter (in person with ID)
rule-mmyy-eg-0929 = must be MM/YY, e.g. 09/29
rule-month-outside-0112 = has a month outside 01-12
rule-past-card-expired = is in the past; the card has expired
rule-164-ascii-letters-digits = must be 1-64 ASCII letters, digits, '.', '_' or '-'
rule-432-ascii-letters-digits = must be 4-32 ASCII letters, digits or hyphens
rule-last-4-digits = must be the last 4 digits
rule-number = must be a number
rule-company-individual = must be company or individual
rule-632-ascii-letters-digits = must be 6-32 ASCII letters or digits
rule-mmyy = must be MMYY

## Work orders: what is wrong with a field
csv-column-spaces = column '{ $column }' has spaces around its name; write it as '{ $trimmed }'
csv-column-twice = column '{ $column }' appears twice in the header
value-bare-number = is a bare number; write it as a quoted string ("{ $value }") so no digit is lost
value-list = is a list; a single value is expected
value-formula = starts with '{ $first }', which a spreadsheet runs as a formula; write the value without it
value-not-text = is a { $kind }; a quoted string is expected
kind-boolean = boolean
kind-date = date
kind-list = list of non-strings
value-file-outside = must name a file inside the order's directory (no absolute path, no '..')
value-file-missing = file not found: { $file }
value-file-link-outside = leads outside the order's directory (through a link); copy the file next to the order
value-file-not-regular = { $file } is not a regular file
value-evidence-list = must be a list of file names
field-unknown = is not a known order field (see docs/orders.md)
field-required = is required
field-settles-to = is required, or expect.account_last4: say what the terminal settles to now
field-settles-both = and expect.card_last4 are both given; a terminal settles to a card or to an account, say which
field-not-used = is not used by { $operation }; remove it or check the operation
field-same-unit = is the same unit as expect.serial; a replacement must be another unit
field-op-unsupported = { $operation } is not supported by profile { $profile }
field-required-by = is required for { $operation } by profile { $profile }
field-document-company = is a required document for a company under profile { $profile }
field-document-individual = is a required document for an individual merchant under profile { $profile }
field-required-agent = is required when someone acts for the merchant (profile { $profile })
unit-yuan = yuan
field-out-of-bounds = must be between { $min } and { $max } { $unit } under profile { $profile }
field-id-repeated = repeats the id of the order on line { $line }; ids must be unique
order-incomplete = order is incomplete

## Provider connection
agent-key-not-hex = agent key file { $file }: expected { $digits } hex digits
agent-key-length = agent key file { $file }: expected { $digits } hex digits, found { $found }
tls-bad-pin = pin '{ $pin }': expected a SHA-256 fingerprint (64 hex digits)
what-ca-bundle = CA bundle
what-client-cert = client certificate
tls-ca-bundle = CA bundle { $file }: { $reason }
tls-no-system-ca = no trusted CA certificates found on this system; give the provider's CA with --provider-ca FILE
tls-setup = TLS: { $reason }
tls-client-key = client key { $file }: { $reason }
tls-client-pair = client certificate and key do not go together: { $reason }
tls-client-half = give both --client-cert and --client-key, or neither
tls-not-pinned = its certificate (SHA-256 { $sha256 }) is not one of the pinned certificates
tls-unknown-issuer = its certificate is not signed by a CA this agent trusts; give the provider's CA with --provider-ca FILE (or provider.ca in config.toml)
tls-expired = its certificate has expired; the provider must renew it (and check this laptop's clock)
tls-not-yet-valid = its certificate is not valid yet; check this laptop's clock
tls-wrong-name = its certificate is for another host name than the URL's
tls-cert-refused = its certificate was refused ({ $reason })
tls-client-cert-required = it requires a client certificate; give --client-cert FILE and --client-key FILE
tls-client-cert-refused = it did not accept this agent's client certificate; check --client-cert and --client-key
tls-failed = TLS failed: { $reason }
url-invalid = provider URL '{ $url }': { $reason }
url-not-https = provider URL '{ $url }': must start with https:// (submissions only travel over TLS)
url-no-host = provider URL '{ $url }': no host
url-bad-host = provider URL '{ $url }': '{ $host }' is not a host name
net-no-connection = no connection within { $seconds } s
net-no-handshake = no TLS handshake within { $seconds } s
net-health = its health check answered HTTP { $status }
net-bad-request = cannot build a request for { $path }: { $reason }
net-answer-too-long = its answer was longer than { $max } bytes
net-no-answer = no answer within { $seconds } s

## The receipt (printed in both languages, Chinese first)
receipt-title = Terminal binding change receipt
receipt-merchant = Merchant
receipt-merchant-name = Name
receipt-mid = MID
receipt-merchant-kind = Kind
receipt-terminal = Terminal
receipt-serial = Serial
receipt-profile = Profile
receipt-replacement = Replacement
receipt-changes = What changed
receipt-no-change = The job did not finish; no change was recorded.
receipt-procedure = Procedure
receipt-backup-section = Backup and verification
receipt-backup-file = Backup file
receipt-backup-sha256 = Backup SHA-256
receipt-test = Test transaction
receipt-test-value = { $fen } fen · auth { $auth } · RRN { $rrn }
receipt-provider = Provider
receipt-sync-state = Sync state
receipt-provider-receipt = Provider receipt
receipt-reason = Reason
receipt-order = Work order
receipt-signed = signed by the provider (key { $key })
receipt-unsigned = not signed (local order)
receipt-order-id = Order
receipt-signature = Signature
receipt-technician = Technician
receipt-started = Started
receipt-merchant-signature = Merchant signature
receipt-technician-signature = Technician signature
receipt-date = Date
receipt-field = Field
receipt-before = Before
receipt-after = After
receipt-status = Status
receipt-tid = TID
receipt-card = Card
receipt-card-holder = Card holder
receipt-expiry = Expiry
receipt-account = Account
receipt-account-holder = Account holder
receipt-bank = Bank
receipt-phone = Phone
receipt-step-order = work order
receipt-op-rebind-card = Rebind settlement card
receipt-op-rebind-account = Rebind settlement account
receipt-op-rebind-phone = Change phone number
receipt-op-unbind = Unbind
receipt-op-migrate = Migrate to a replacement unit
receipt-op-restore = Restore from backup
receipt-state-done = done
receipt-state-running = running
receipt-state-interrupted = interrupted
receipt-state-refused = refused
receipt-state-aborted = aborted
receipt-state-cancelled = cancelled
receipt-state-planned = planned
receipt-sync-pending = pending
receipt-sync-sending = sending
receipt-sync-accepted = accepted
receipt-sync-rejected = rejected
receipt-sync-dead = not deliverable
receipt-phase-done = done
receipt-phase-failed = failed
receipt-phase-refused = refused
receipt-phase-interrupted = interrupted
receipt-phase-compensated = rolled back
eta = eta {$minutes}m {$seconds}s

## --help: options (cmd-<command>--<id> for one command, arg-<id> for every command that has it)
arg-port = Serial port of the terminal (e.g. /dev/ttyUSB0). Without it the terminal is found by itself among the serial ports (matched to a profile by USB id) and the places `[ports] extra` in config.toml and POSAGENT_PORTS name; several ask which one
cmd-rebind--port = Serial port of the terminal (default: the port where the order's expect.serial answers, among the serial ports and the places POSAGENT_PORTS names)
cmd-unbind--port = Serial port of the terminal (default: the port where the order's expect.serial answers, among the serial ports and the places POSAGENT_PORTS names)
cmd-jobs-resume--port = Where the terminal is now (default: where it was, else the port its serial answers on, also searching POSAGENT_PORTS); a terminal with another serial is refused
cmd-jobs-abort--port = Where the terminal is now (default: where it was, else the port its serial answers on, also searching POSAGENT_PORTS); a terminal with another serial is refused
cmd-sim-terminal--port = Serve on an existing serial device
arg-serial = Of the terminals found, the one with this serial number
cmd-sim-terminal--serial = Serial number for the simulated unit (default: derived from the seed)
arg-profile = Profile to use (default: the one its USB id matches, else the one it answers with)
cmd-backup--profile = Profile of the terminal (default: the one its USB id matches, else the one it answers with)
cmd-restore--profile = Profile of the terminal (default: the one recorded in the backup)
cmd-sim-terminal--profile = Profile whose terminal to simulate
arg-secret-file = File holding the operator secret (else POSAGENT_SECRET, else a prompt)
cmd-sim-terminal--secret_file = Operator secret the terminal accepts (default: the documented demo secret)
arg-file = The order (TOML) or orders (CSV, or TOML with [[order]] tables)
arg-url = Provider URL, https://host[:port][/prefix] (else provider.url in config.toml)
arg-provider-ca = PEM bundle of CAs to trust for the provider (else provider.ca, else system roots)
arg-client-cert = Client certificate for mutual TLS (PEM)
arg-client-key = Private key of the client certificate (PEM)
arg-agent-key-file = File holding the agent's signing key, 64 hex digits (else provider.agent_key_file)
arg-out = The zip to write
cmd-backup--out = Archive to write
cmd-jobs-receipt--out = Where to write it (default: receipts/JOB.html under the data directory)
arg-force = Replace an existing file
cmd-backup--force = Replace an existing archive
arg-evidence = Evidence files to include
arg-password-file = File holding the backup password (else POSAGENT_BACKUP_PASSWORD, else a prompt)
cmd-backup-verify--password_file = File holding the backup password
arg-yes = Do not ask for confirmation
arg-to-replacement = The archive belongs to another unit (a replacement)
arg-order = The work order (TOML)
arg-dry-run = Run every read-only check (find the terminal, authenticate, compare the binding with the order, documents, cooldown), change nothing, keep no job, print the plan
arg-verify = How a migration checks the new unit's copy: by the terminal's digest (falling back to reading it back), or by reading every record back
cmd-jobs-resume--verify = How a migration still to verify checks the new unit's copy (see `migrate --verify`)
cmd-jobs-abort--verify = How a migration still to verify checks the new unit's copy (see `migrate --verify`)
arg-cooldown-checked-by-provider = The provider confirmed that the merchant's settlement-card cooldown has run out (needed when the terminal does not say when its card was bound; recorded in the audit)
arg-from = Port of the old unit (default: where the order's expect.serial answers)
arg-to = Where a migration's replacement unit is now (found by its serial otherwise)
cmd-migrate--to = Port of the replacement unit (default: where replacement.serial answers)
arg-plan = The plan: CSV (one order per row) or TOML ([[order]] tables)
arg-pulled = Instead of a plan: every pulled order not yet carried out whose terminal is connected
arg-jobs = Jobs in parallel, one per terminal
arg-ports = Probe only these ports (repeatable); default: every serial port of this machine
arg-watch = Keep running and deliver whenever the provider is reachable
arg-interval = With --watch: how often to look for work and for the provider, in seconds
arg-max-wait = Without --watch: wait for retries that fall due within this many seconds
arg-pty = Create a pseudo-terminal and print {"{"}"port": ..., "serial": ...{"}"} on stdout
arg-link = Keep a symlink at PATH to the current pseudo-terminal (survives simulated replugs)
arg-transactions = Transactions in the log (some unsettled)
cmd-demo--transactions = Transactions on the old unit
arg-seed = Seed for reproducible data
cmd-sim-provider--seed = Seed for the fault dice
arg-baud = Line rate to pace at, in baud (8N1: bytes/s = baud / 10)
cmd-demo--baud = Line rate of the simulated terminals
arg-faults = Faults, e.g. bitflip=1e-5,drop=1e-5,stall=200ms,busy=0.1,slow=50ms,unplug=4096
cmd-sim-provider--faults = Faults, e.g. unavailable=0.2,delay=100ms,reset_before=0.1,reset_after=0.1,slow_handshake=500ms,reject=0.05
arg-state = State file; a restart with the same file is a power cycle
arg-blank = A new, unbound replacement unit
arg-account = Start bound to a bank account instead of a settlement card
arg-legacy = Behave as a terminal of the first protocol release (no DIGEST command)
arg-settlement-since = When the settlement card or account was bound, YYYYMMDD, as STATUS reports it; `unknown` makes a terminal that does not say
arg-listen = Address to listen on; port 0 picks a free one
arg-tls-dir = Certificates, agent key and ledger (made on first start; default DATA/sim-provider)
arg-require-client-cert = Refuse agents without a client certificate from the directory's CA
arg-card-cooldown-days = Days between two settlement-card changes of one merchant
arg-orders = Issue these work orders, signed (CSV: the plan's columns plus `technician`, and optionally `valid_until` and `checks.NAME`)
arg-report = Print what the provider in the directory has applied (JSON) and exit
bar-eta = eta
bar-sync = sync

## Delivery and the audit trail
drain-interrupted = delivery interrupted: { $detail }
drain-unreadable = the provider's answer was unreadable
drain-no-receipt = the provider accepted it without a receipt
drain-no-reason = no reason given
drain-no-answer = the provider did not answer for it
drain-unexpected-http = unexpected HTTP { $status }
audit-gap = expected record { $expected } here; records were deleted or inserted
audit-link-broken = its link to the previous record is broken; a record before it was deleted, inserted or reordered
audit-edited = its contents were edited
audit-anchor-missing = the database's audit anchor is missing
audit-cut-anchor = records { $from }..{ $to } were cut from the end of the trail (database anchor)
audit-last-differs-anchor = the last record differs from the one the database anchor recorded
audit-job-record-missing = record { $record }, the last one of job { $job }, is missing
audit-job-record-differs = record { $record }, the last one of job { $job }, differs from what the job recorded
audit-head-missing = the head file { $file } is missing
audit-head-damaged = the head file { $file } is damaged
audit-cut-head = records { $from }..{ $to } were cut from the end of the trail
audit-last-differs-head = the last record differs from the one the head file recorded

## The wire (what a terminal sent that could not be read)
frame-short = frame too short ({ $bytes } bytes)
frame-long = frame longer than { $max } bytes
frame-crc = CRC mismatch
frame-version = unknown protocol version { $version }
frame-kind = unknown frame kind { $kind }
frame-length = length field says { $declared } bytes, frame holds { $actual }
frame-escape = invalid escape sequence
tlv-truncated = TLV truncated at byte { $at }
tlv-long-tag = tag longer than 3 bytes at byte { $at }
tlv-length-form = unsupported length form 0x{ $form }
tlv-too-long = value of { $bytes } bytes exceeds the limit
tlv-too-deep = nesting deeper than { $max }
tlv-missing = tag { $tag } missing
tlv-bad = tag { $tag }: { $what }

## More from the library
input-not-utf8 = not UTF-8 text ({ $reason })
disk-full = the disk is full; free some space and try again
terminal-count-differs = the terminal announced { $announced } record(s) but sent { $sent }
terminal-bad-offset = resume offset { $offset } is not valid
terminal-too-many-imported = the terminal reports { $added } record(s) imported of the { $sent } sent
probe-no-answer = no profile's line settings got an answer
probe-no-ports = none found
profile-name-differs = key `name` is '{ $name }' but the file is for '{ $expected }'; make them the same
profile-field-unused = key `operations.{ $operation }.required_fields`: '{ $field }' is not a field that { $operation } uses
profile-not-document = key `documents.{ $key }`: '{ $field }' is not a document field
profile-serial = key `serial`: data_bits must be 5-8, stop_bits 1-2 and baud above 0
profile-bounds = key `{ $key }`: min must be at least 0 and not above max
what-profile-override = profile override
state-restored-unverified = the binding is restored but not yet verified
cannot-read = cannot read { $file }: { $reason }
order-key-invalid = order key file { $file }: { $reason }
order-key-not-ed25519 = order key file { $file }: expected an ed25519 key of 64 hex digits
seal-key-length = must hold { $bytes } bytes; restore it from your key backup
manpage-failed = cannot write the manual page: { $reason }
sim-where = say where to serve: --pty or --port P
port-busy = the port is in use by another program; close it and try again
port-not-utf8 = the path is not valid UTF-8
orders-answer-invalid = the orders answer is not what docs/sync-api.md describes: { $reason }
orders-expired-at = expired at { $at }
sim-no-pty = pseudo-terminals exist only on Unix; serve on an existing port with --port COMn (one side of a virtual null-modem pair)
sim-baud-zero = --baud must be above 0
sim-bad-since = --settlement-since { $value }: give a date as YYYYMMDD, or unknown

## Command-line mistakes (in English clap says them itself)
usage-unknown-argument = unexpected argument '{ $arg }'
usage-unknown-command = unknown command '{ $name }'
usage-invalid-value = invalid value '{ $value }' for '{ $arg }' (possible values: { $valid })
usage-value-refused = invalid value '{ $value }' for '{ $arg }': { $reason }
usage-missing = required arguments were not given: { $args }
usage-missing-command = a command is needed
usage-conflict = '{ $arg }' cannot be used with '{ $other }'
help-usage = `posagent --help` lists the commands, `posagent COMMAND --help` their options
help-job-busy = resume it (`posagent jobs resume { $job }`) or abort it (`posagent jobs abort { $job }`) first
help-job-stopped = run `posagent jobs resume { $job }` to carry on, or `posagent jobs abort { $job }` to restore the backup
help-job-resume = reconnect and run `posagent jobs resume { $job }`: the journal keeps every step; resuming carries on where it stopped, aborting restores the backup
help-jobs-list = `posagent jobs list` shows them
help-confirm-or-yes = pass --yes where no one can answer the prompt

## Proving a phone number (verify_phone)
step-verify-phone = verify_phone
code-wrong = the code is not the one sent ({ $left } attempts left)
code-expired = the code has expired; start the job again to have a new one sent
code-exhausted = the code was wrong too many times; start the job again to have a new one sent
code-refused = the provider refused the code ({ $code }): { $message }
code-answer-invalid = the provider's answer to { $path } is not valid: { $reason }
code-no-provider = no provider is configured (provider.url in config.toml)
code-none-given = no code was given
code-sent-new = A code was sent to the new number { $phone }.
code-sent-bound = A code was sent to the merchant's bound phone { $phone }.
code-again = That code was wrong.
code-until = (valid until { $until }, { $left } attempts left)
code-waiting-file = Waiting for the code in { $file }…
code-prompt = Code the merchant received:
what-code-file = code file
profile-confirm-by-sms = key `operations.{ $operation }.confirm_by_sms`: only a rebind-card can be confirmed by SMS
profile-not-counter-document = key `operations.{ $operation }`: '{ $field }' cannot be a counter document (only rebind-phone has a counter path; documents: scan.holder_id, scan.agent_id, agent.authorisation, agent.id_number, merchant.legal_rep_id)
field-required-counter = is required for the counter path (new.phone_path = "counter") under profile { $profile }: a scan of the original the technician sees
refused-no-phone-bound = the terminal has no phone bound, so no code can confirm the change; ask the provider to sign an order with the merchant's confirmation
refused-code-needs-technician = order { $order } needs the one-time code the merchant receives, and it cannot be asked for here: run `posagent rebind` for it at a terminal or with --sms-code-file FILE, or ask the provider for an order signed with the merchant's verification
refused-phone-offline = a code to the new number { $phone } cannot be sent: { $detail }. Wait for a network and start again, or change the phone at the counter path (new.phone_path = "counter", with the holder's ID and --documents-checked)
refused-card-sms-offline = the provider must send a code to the merchant's bound phone { $phone } before the card changes, and it cannot be reached: { $detail }. Wait for a network and start again, or ask the provider for an order signed with the merchant's confirmation
refused-attestation-invalid = the signed order's checks.{ $check } is not a time in the past: '{ $value }'
refused-attestation-number = the signed order's checks.{ $check } is { $attested }, not the order's number { $phone }; ask the provider for a corrected order
refused-originals-not-seen = the counter path needs you to see the originals of { $documents }; once you have, run the job again with --documents-checked (recorded with your name)
help-phone-offline = nothing was changed and nothing was queued
arg-sms-code-file = Read the one-time code the merchant received from FILE once it is written (it is then removed); else a prompt asks for it
arg-documents-checked = Phone change at a counter: you saw the originals of the order's documents (recorded with your name)
arg-sms-log = "Send" one-time codes by appending one JSON line per message to FILE (default: sms.jsonl in the directory)
arg-sms-ttl = Seconds a one-time code is accepted
arg-line-baud = The rate the line really carries, when slower (or faster) than --baud, which the terminal believes and sizes its timeouts by
arg-buffer = Bytes the line buffers ahead of its rate, as a USB-serial bridge or the OS queue do (0: none)
