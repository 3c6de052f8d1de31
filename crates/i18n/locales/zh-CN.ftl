# posagent 消息，简体中文。每个键在 en.ftl 中都有同名、同占位符的对应条目
# （测试 `catalogues_parse_and_match` 会检查）。

## 流程步骤（屏幕与签收单上显示）
step-check-identity = 核对身份
step-authenticate = 认证
step-compare-binding = 比对绑定
step-check-documents = 核对证件
step-check-cooldown = 检查冷却期
step-check-replacement = 检查替换机
step-backup = 备份
step-settle = 结算
step-export-data = 导出数据
step-activate-new = 激活新机
step-import-data = 导入数据
step-verify-import = 校验导入
step-unbind-old = 解除旧绑定
step-bind-new = 写入新绑定
step-reboot = 重启
step-verify = 校验
step-test-transaction = 测试交易
step-record = 记录
step-restore-binding = 恢复绑定
step-restore-parameters = 恢复参数

## 作业中止后终端的状态
state-unchanged = 终端上没有任何改动
state-backed-up = 终端未改动，已有经过校验的备份
state-settled = 批次已结算，绑定未改动
state-data-moving = 旧机绑定未改动；替换机已有部分或全部数据
state-unbound = 旧绑定已解除，新绑定尚未写入
state-bound-unverified = 新绑定已写入，尚未校验
state-bound-verified = 新绑定已写入并校验
state-last-step = 最后完成的步骤“{ $step }”：{ $what }

## 作业状态
jobstate-planned = 已计划
jobstate-running = 进行中
jobstate-interrupted = 已中断
jobstate-done = 已完成
jobstate-cancelled = 已取消
jobstate-aborted = 已撤销
jobstate-refused = 已拒绝

## 作业错误
job-refused = 在“{ $step }”被拒绝：{ $reason }。没有做任何改动
job-busy = 终端 { $serial } 有未完成的作业 { $job }
job-interrupted = 在“{ $step }”中断：{ $reason }
job-stopped = 已按您的要求在“{ $next }”之前停止；{ $terminal }
job-verification = 在“{ $step }”校验失败：{ $what }
job-cancelled = 未确认；没有做任何改动
job-not-found = 未找到作业 { $job }
job-not-running = 作业 { $job } 状态为“{ $state }”；只有进行中的作业可以继续或撤销
job-order-unreadable = 无法读取作业的工单文件 { $file }：{ $reason }；请放回原处再继续
job-order-changed = 作业开始后工单文件 { $file } 已被改动；请恢复原文件再继续，或撤销该作业
job-order-invalid-now = { $file } 中的工单 { $order } 已不再有效
job-pulled-gone = 本机已不再保存拉取的工单 { $order }
job-pulled-changed = 作业开始后拉取的工单 { $order } 已被改动
order-unsigned-refused = 配置 { $profile } 只接受服务商签名的工单（[orders] require_signed），而 { $file } 是本地文件；请用 `posagent orders pull` 拉取工单并给出其编号。没有做任何改动
order-other-terminal = 工单 { $order } 是发给终端 { $expected } 的，但当前连接的是终端 { $serial }；没有做任何改动
order-already-done = 工单 { $order } 已经执行过（作业 { $job }）；一张工单只执行一次。没有做任何改动

## 业务类型
op-rebind-card = 换绑结算卡
op-rebind-account = 换绑结算账户
op-rebind-phone = 换绑手机号
op-unbind = 解绑
op-migrate = 换机迁移
op-restore = 恢复

## 日志
phase-intent = 开始
phase-done = 完成
phase-failed = 失败
detail-done-before = 之前已完成
detail-reconnected = 终端已重新连接；重新执行该步骤

## 错误输出
error-line = 错误：{ $message }
help-line = 提示：{ $help }
help-check-permissions = 请检查该目录的权限
help-profile-invalid = 请修正该配置文件，或删除它以使用内置配置
help-profile-unknown = 运行 `posagent profiles` 查看可用名称
help-profile-unreadable = 请换成普通的 TOML 文件，或删除它以使用内置配置
help-receipt-out = 请用 --out FILE.html 指定一个可写的位置
help-order-check = 请修正该文件；`posagent order check` 会列出所有问题

## 作业
plan-heading = 作业 { $job } —— 工单 { $order } 的“{ $operation }”，终端 { $terminal }
plan-replacement = 替换机：{ $serial }
plan-steps = 步骤：{ $steps }
plan-confirm = 所有检查均已通过。确认执行这些改动？
orders-file-invalid = { $file }：无效：{ $problems }
pulled-order-invalid = 拉取的工单 { $order } 无效：{ $problems }
order-wrong-operation = 工单 { $order } 是“{ $operation }”工单，不是“{ $wanted }”
orders-file-several = { $file } 含有 { $count } 张工单；一个作业只执行一张（批量请用 `posagent run`）
job-where = 请给出 { $flag } P，或在工单中填写 { $field }，以便找到终端
outcome-heading = 作业 { $job } { $verb }：工单 { $order } 的“{ $operation }”，终端 { $terminal } —— { $state }
outcome-backup = 备份：{ $file }
outcome-test = 测试交易：{ $fen } 分，授权码 { $auth }，参考号 { $rrn }
outcome-moved = 已迁移并校验的交易：{ $count } 笔
outcome-queued = 已排队待发送给服务商：提交 { $submission }（`posagent queue show` 可查看）
outcome-receipt = 待打印签字的签收单：{ $file }
outcome-receipt-failed = 签收单未写出：{ $reason }
    {"  "}`posagent jobs receipt { $job } --out FILE.html` 可写到别处
verb-finished = 已完成
verb-aborted = 已撤销并回滚
verb-resumed = 已继续并完成
dry-run-done = 演练：所有检查均通过；没有做任何改动，也没有记录作业。
dry-run-would-change = 将改动
col-job = 作业
col-operation = 业务
col-terminal = 终端
col-state = 状态
col-order = 工单
col-step = 步骤
jobs-none = 还没有作业
job-not-found-prefix = 未找到作业 { $job }（或前缀对应多个作业）
job-show =
    作业 { $job }
    {"  "}工单 { $order }（{ $file }）的“{ $operation }”，配置 { $profile }
    {"  "}终端 { $terminal }，替换机 { $replacement }
    {"  "}状态 { $state }（{ $error }）
    {"  "}{ $started } 由 { $technician } 开始
job-show-submission = 提交 { $submission }：{ $state }
job-show-rejected = 被拒绝：{ $reason } [{ $code }]
    {"  "}补救：用作业的备份运行 `posagent restore --port P { $backup }`，或提交更正后的工单；原因消除后运行 `posagent queue retry { $submission }`
receipt-written = 作业 { $job } 的签收单已写入 { $file }（用浏览器打开即可打印）
audit-intact = 审计记录完整：{ $records } 条，每一环都校验通过
audit-broken = 审计记录在第 { $record } 条处断裂：{ $reason }

## --help：命令（cmd-<命令>-<子命令>）与全局选项（cmd--<选项>）
cmd = 离线现场工具：通过 USB 串口为支付终端换绑、解绑和换机迁移
cmd-devices = 串口列表，含 USB VID:PID、序列号和匹配的配置
cmd-inspect = 终端的身份和当前绑定（号码已脱敏）
cmd-order = 工单
cmd-order-check = 离线校验工单文件的每个字段，无需连接设备
cmd-orders = 服务商下发的工单：联网时拉取，可列出和查看
cmd-orders-pull = 拉取服务商下发给本技术员的工单，校验后离线保存
cmd-orders-list = 已拉取的工单，最早过期的在前（默认）
cmd-orders-show = 一张已拉取的工单，号码已脱敏
cmd-support-bundle = 供技术支持使用的 zip：日志、作业和队列列表、配置、版本和串口；号码已脱敏，不含任何密钥
cmd-config = 设置保存在哪里、内容是什么
cmd-config-path = 配置文件、数据和配置覆盖所在的位置（默认）
cmd-config-show = 读取到的配置，文件路径已展开
cmd-config-init = 写出一份带注释的 config.toml 供填写
cmd-profiles = 服务商配置
cmd-profiles-list = 列出配置（默认）
cmd-profiles-show = 完整显示一份配置
cmd-backup = 终端绑定、参数和交易记录的加密备份
cmd-backup-verify = 不连接设备，检查备份的密码、校验和和清单
cmd-backup-list = 已记录的备份
cmd-restore = 把备份的绑定写回终端
cmd-rebind = 更换绑定的结算卡、结算账户或手机号
cmd-unbind = 解绑终端（先结算）
cmd-migrate = 把终端的数据迁移到替换机，并解绑旧机
cmd-run = 对多台终端执行一批工单（CSV 或 TOML）
cmd-jobs = 作业日志
cmd-jobs-list = 全部作业，最新的在前
cmd-jobs-show = 一个作业及其日志和提交
cmd-jobs-receipt = 写出作业的签收单供打印签字：双语 A4 页面（HTML，任何浏览器离线可打开），含改动前后（脱敏）、步骤、备份、测试交易、服务商回复和签名栏。作业会自动在数据目录下写一份；`sync` 之后再运行一次可显示服务商回执
cmd-jobs-resume = 按日志继续一个中断的作业
cmd-jobs-abort = 把未完成的作业回滚到备份
cmd-queue = 待发送给服务商的提交队列
cmd-queue-list = 全部提交，最新的在前
cmd-queue-show = 一条提交：状态、尝试次数、服务商回复、脱敏后的内容
cmd-queue-retry = 把被拒绝或已放弃的提交重新排队
cmd-sync = 把排队的提交发送给服务商
cmd-audit = 防篡改的审计记录
cmd-audit-verify = 检查哈希链并指出第一条损坏的记录
cmd-sim = 模拟终端和模拟服务商，用于培训和测试
cmd-sim-terminal = 在伪终端或已有串口上运行的模拟终端
cmd-sim-provider = 通过 TLS 提供同步接口的模拟服务商
cmd-demo = 用模拟终端和模拟服务商完整演示一次换机迁移（--json：每个阶段一个文档）
cmd-completions = 输出 SHELL 的命令补全脚本
cmd-manpage = 在标准输出写出手册页（roff），或用 --dir 写出全部手册页：posagent(1) 及每个命令一页，如 posagent-rebind(1)
cmd--json = 在标准输出给出一个 JSON 文档（流式输出为 JSON 行），而不是文字
cmd--home = 数据目录（数据库、备份、配置、配置覆盖）
cmd--verbose = 同时把日志写到标准错误：-v 事件，-vv 细节（数据目录中的日志文件总会记录；POSAGENT_LOG 设置过滤）
cmd--quiet = 安静：标准错误上不显示步骤、进度和提示；只给结果和错误
cmd--lang = 消息语言：en 或 zh-CN（否则看 POSAGENT_LANG，再否则看系统区域设置）
help-heading-commands = 命令
help-flag-help = 显示帮助
help-flag-version = 显示版本
help-heading-usage = 用法：
help-heading-arguments = 参数
help-heading-options = 选项
lang-unknown = posagent 不支持语言“{ $value }”；请用 en 或 zh-CN

## 终端与串口
help-terminal-unavailable = 请检查数据线和串口名（`posagent devices` 可列出串口），然后重试
help-wrong-secret = 请核对操作员密钥；多次错误会锁定终端
help-locked-out = 请等待锁定结束；不要反复猜测重试
help-not-genuine = 请核对密钥；如果密钥正确，请停止操作：该设备可能不是正品
help-terminal-refused = 原因见上方终端的回复
help-another-unit = 请插回正确的终端，然后继续
help-terminal-not-found = 请连接它，或用 --port 指定串口；可在 POSAGENT_PORTS 中给出其他查找位置（多个通配符用 ':' 分隔，Windows 上用 ';'）
help-terminal-faulty = 请重试；如果反复出现，说明终端或数据线有故障
ports-unlisted = 无法列出串口：{ $reason }
col-port = 串口
col-usb-id = USB ID
col-manufacturer = 厂商
col-serial-no = 序列号
col-profile = 配置
ports-none = 没有找到串口；请检查数据线，并确认您在 dialout 用户组中
serial-not-found = 查找了 { $ports } 个串口，没有序列号为 { $serial } 的终端应答
help-serial-not-found = 请检查数据线；`posagent devices` 可列出串口；其他查找位置可写入 POSAGENT_PORTS
no-terminal-found = 所有串口上都没有终端应答
help-no-terminal-found = 请检查数据线和 `posagent devices`；可用 --port P 指定串口
using-terminal = 使用终端 { $serial }（{ $vendor } { $model }），串口 { $port }
found-terminal = { $port }  USB { $usb }  序列号 { $serial }  { $vendor } { $model }
pick-prompt = 有多台终端应答；使用哪一台？
pick-failed = 无法询问使用哪台终端：{ $reason }
pick-none = 没有选择终端；未做任何操作
several-terminals = 有 { $count } 台终端应答：
    {"  "}{ $list }
help-several-terminals = 请用 --port P 或 --serial SN 选择一台
field-status = 状态
field-merchant = 商户
field-card = 结算卡
field-account = 结算账户
field-phone = 手机号
field-link = 链路
field-terminal = 终端
field-log = 交易记录
card-line = { $pan }  { $holder }  有效期 { $expiry }
link-line = 发送 { $out } 字节，接收 { $in } 字节，{ $frames } 帧，重传 { $retransmissions } 次，重连 { $reconnects } 次，{ $seconds } 秒
terminal-line = { $vendor } { $model }  序列号 { $serial }  固件 { $firmware }
log-line = { $transactions } 笔交易，{ $unsettled } 笔未结算

## 文件与密钥
what-order-file = 工单文件
what-evidence-file = 证明材料文件
what-backup-archive = 备份文件
what-order-key-file = 工单公钥文件
what-log-file = 日志文件
what-agent-key-file = 本机密钥文件
what-client-key = 客户端私钥
what-config-file = 配置文件
what-secret-file = { $what }文件
what-operator-secret = 操作员密钥
what-backup-password = 备份密码
what-new-backup-password = 新的备份密码
what-repeat-backup-password = 再次输入新的备份密码
filekind-fifo = 命名管道（FIFO）
filekind-device = 设备文件
filekind-socket = 套接字
filekind-directory = 目录
filekind-special = 特殊文件
input-not-regular = { $what } { $path }：是{ $kind }，不是普通文件；请给出普通文件
input-too-large = { $what } { $path }：超过 { $limit } 字节的上限
input-unstable = { $what } { $path }：读取过程中大小发生变化，或者是伪文件（/proc、/sys）
input-io = 无法读取{ $what } { $path }：{ $reason }
secret-file-empty = { $what }文件 { $file } 是空的
secret-prompt = { $what }：
secret-prompt-failed = 无法读取{ $what }：{ $reason }
secret-missing = 没有提供{ $what }
help-secret-missing = 请用 { $flag } FILE 或设置 { $env }；出于安全，不接受写在命令行上
passwords-differ = 两次输入的备份密码不一致；未做任何操作
help-passwords-differ = 请两次输入相同的密码
interrupt-first = 当前步骤完成后停止（再按一次 Ctrl-C 立即退出）…
interrupt-second = 立即退出；已完成的每一步都记录在日志中
runtime-failed = 无法启动网络运行时：{ $reason }
order-check-valid = { $file }：{ $orders } 张工单，全部有效
order-check-invalid = { $file }：{ $orders } 张工单中有 { $problems } 个问题

## 批量执行（posagent run）
plan-order-twice = { $file }：工单 { $order } 出现了两次
plan-order-no-serial = { $file }：工单 { $order } 没有 expect.serial；批量执行按序列号查找每台终端
plan-terminal-absent = 所有串口上都没有终端 { $serial } 应答
plan-replacement-absent = 所有串口上都没有替换机 { $serial } 应答
plan-confirm-run = 在找到的终端上执行 { $file } 中的 { $count } 张工单？
pulled-not-valid = 无效：{ $problems }
pulled-left-alone = 未处理：{ $reason }
pulled-orders = 已拉取的工单
pulled-none-connected = 没有连接任何已拉取工单对应的终端
status-started = 开始
status-done = 完成
status-skipped = 之前已完成
status-failed = 失败
status-planned = 已计划
run-line-failed = 失败：{ $reason }
col-result = 结果
col-note = 备注
run-summary = 完成 { $done } 张，之前已完成 { $skipped } 张，失败 { $failed } 张
run-receipts = { $count } 张待打印签字的签收单在 { $dir }（每个作业一张，以作业编号命名）
run-failed = { $total } 张工单中有 { $failed } 张失败
help-run-failed = 按提示逐一处理后，再次运行同一批工单：已完成的会跳过，中断的会继续
run-dry = 演练：没有做任何改动，也没有记录作业。
run-no-terminal-on = { $port } 上没有终端：{ $reason }
run-dry-failed = { $total } 张工单中有 { $failed } 张将会失败
help-run-dry-failed = 按提示逐一处理（连接缺少的终端：`posagent devices`），然后再检查一次

## 备份
help-backup-io = 请检查路径、剩余空间和权限
help-backup-password = 请核对备份密码（--password-file 或 POSAGENT_BACKUP_PASSWORD）
help-backup-exists = 加 --force 可覆盖，或换一个文件名；新的备份密码至少需要 12 个字符
help-backup-damaged = 不要用这个备份恢复；请使用该终端的其他备份
backup-needs-out = backup 需要 --out FILE.zip
transfer-reading-terminal = 读取终端
backup-written = 终端 { $serial } 的备份已写入并校验：{ $file }
    {"  "}{ $size } 字节，SHA-256 { $sha256 }
    {"  "}{ $transactions } 笔交易，{ $params } 个参数
backup-valid = { $file }：有效。终端 { $serial }（{ $vendor } { $model }）的备份，{ $taken } 由 { $technician } 备份；{ $entries } 个条目，校验和全部一致；{ $transactions } 笔交易
col-id = 编号
col-taken = 备份时间
col-transactions = 交易数
col-file = 文件
backups-none = 还没有备份记录
confirm-no-terminal = 此改动需要确认，但没有可以询问的终端窗口
help-confirm-yes = 加 --yes 表示确认
not-confirmed = 未确认；没有做任何改动
restore-other-terminal = { $file } 是终端 { $expected } 的备份，但 { $port } 上的终端是 { $serial }
help-restore-other-terminal = 请连接正确的终端，或加 --to-replacement 把该绑定写到替换机上
restore-heading = 终端 { $serial } —— 恢复将做的改动：
restore-matches = 绑定已与备份一致
restore-confirm = 先备份当前内容，再从备份恢复绑定和 { $params } 个参数？
verb-restored = 已恢复
backup-exists = { $file } 已存在
backup-weak-password = 备份密码至少需要 { $min } 个字符
backup-not-archive = { $file }：不是完整的 zip 文件（被截断，或不是 posagent 备份）
backup-wrong-password = { $file }：密码错误
backup-entry-missing = { $file }：缺少条目 { $entry }
backup-entry-altered = { $file }：条目 { $entry } 被改动或已损坏（{ $what }）
backup-entry-unlisted = { $file }：条目 { $entry } 不在清单中
backup-entry-unencrypted = { $file }：条目 { $entry } 没有用 AES-256 加密
backup-unknown-format = { $file }：本 posagent 不认识备份格式版本 { $found }（只能读取版本 { $known }）
backup-not-recorded = 备份已写出但无法记录，因此已删除：{ $reason }
backup-entry-invalid = { $file }：{ $entry } 无效：{ $reason }
backup-too-many-entries = 含有 { $count } 个条目；最多接受 { $max } 个
backup-duplicate-names = 有两个条目同名
backup-listed-twice = 清单中条目 { $entry } 出现了两次
backup-too-large = 条目合计 { $total } 字节；最多接受 { $max } 字节
backup-size-differs = 大小与清单不一致
backup-entry-too-large = { $entry } 有 { $size } 字节；最多接受 { $max } 字节
backup-line-too-long = 第 { $line } 行超过 { $max } 字节
backup-bad-line = 第 { $line } 行：{ $reason }
backup-digest-differs = 大小或 SHA-256 与清单不一致

## 同步
help-sync-setup = 请修正所指出的设置或文件；没有发送任何内容
help-sync-unreachable = 提交仍在队列中；有网络后再运行 `posagent sync`，或保持 `posagent sync --watch` 运行
help-sync-untrusted = 没有发送任何内容，提交仍在队列中；请检查 --provider-ca、服务商的证书和本机时钟
help-sync-refused = 没有任何提交被标记为已发送；请与服务商核对客户端证书和本机密钥文件
help-sync-store = 队列没有变化
sync-no-provider = 没有可同步的服务商
help-sync-no-provider = 请给出 --provider https://HOST[:PORT]，或在 config.toml 的 [provider] 中设置 url
sync-no-agent-key = 没有用于签名的本机密钥
help-sync-no-agent-key = 请给出 --agent-key-file FILE（或 POSAGENT_AGENT_KEY_FILE），或在 [provider] 中设置 agent_key_file
config-range = { $file }：{ $field } 必须在 { $min } 到 { $max } 之间
sync-connected = 已连接 { $url }
sync-progress = 已接受 { $accepted }，被拒绝 { $rejected }，待重试 { $retried }
sync-delivered = 已送达：接受 { $accepted }，拒绝 { $rejected }，待重试 { $retried }，已放弃 { $dead }
sync-waiting = 等待重试，下次在 { $until }
sync-still-watching = { $error }；继续等待
sync-stopping = 当前批次发送完后停止（再按一次 Ctrl-C 立即退出）
cannot-open = 无法打开 { $file }：{ $reason }
sync-busy = 另一个 `posagent sync` 正在从该数据目录发送
help-sync-busy = 请等它完成，或停止它（Ctrl-C）后再运行
sync-summary = 已与 { $url } 同步：接受 { $accepted }，拒绝 { $rejected }，待重试 { $retried }，已放弃 { $dead }
    队列：待发送 { $pending }，已接受 { $queue_accepted }，被拒绝 { $queue_rejected }，已放弃 { $queue_dead }
sync-next-retry = 下次重试时间 { $at }
sync-orders-pulled = 工单：已拉取并校验 { $count } 张（`posagent orders` 可列出）
sync-refused-some = { $rejected } 条提交被服务商拒绝，{ $dead } 条重试次数已用完
help-sync-refused-some = `posagent queue` 会列出它们及服务商的原因；`posagent jobs show JOB` 给出补救办法
sync-left = 还有 { $count } 条提交在队列中等待稍后重试
help-sync-left = 请稍后再运行 `posagent sync`，或保持 `posagent sync --watch` 运行

## 队列
submission-not-found = 未找到提交 { $submission }（或前缀对应多条）；`posagent queue` 可列出
col-submission = 提交
col-attempts = 尝试次数
col-kind = 类型
col-created = 创建时间
queue-empty = 队列为空
submission-show = 提交 { $submission }（{ $kind }），作业 { $job }，工单 { $order }
    {"  "}状态 { $state }，已尝试 { $attempts } 次，下次 { $next }
    {"  "}幂等键 { $key }
submission-reason = 服务商的原因：{ $reason }
submission-code = 服务商的代码：{ $code }
submission-receipt = 回执：{ $receipt }
submission-payload = 内容（敏感字段已加密，号码已脱敏）：
submission-not-retryable = 提交 { $submission } 的状态是“{ $state }”；只有被拒绝或已放弃的提交可以重试
submission-requeued = 提交 { $submission } 已重新排队
outbox-pending = 待发送
outbox-sending = 发送中
outbox-accepted = 已接受
outbox-rejected = 被拒绝
outbox-dead = 已放弃

## 已拉取的工单
orders-no-keys = 没有用于校验服务商签名的工单公钥
help-orders-no-keys = 请在 config.toml 的 [provider] 中，用 order_key_files 列出服务商的工单公钥文件
orders-pulled = 已为 { $technician } 拉取并校验 { $count } 张工单
orders-pulled-line = { $order }  { $operation }  终端 { $terminal }
orders-refused-line = 拒收 { $order }：{ $reason }
col-valid-until = 有效期至
pulled-executed = 已执行
pulled-expired = 已过期
pulled-waiting = 待执行
pulled-due-today = { $state }（今天到期）
orders-none = 没有已拉取的工单；`posagent orders pull` 可拉取
orders-not-found = 没有已拉取的工单 { $order }
help-orders-not-found = `posagent orders` 可列出
orders-show = 工单 { $order }，技术员 { $technician }，{ $issued } 签发，有效期至 { $until }，签名密钥 { $key }

## 配置、支持包、服务商配置
no-home = 无法确定数据目录（没有 HOME？）；请设置 POSAGENT_HOME 或使用 --home DIR
config-not-written = { $file }  （尚未写出：`posagent config init`）
config-file-label = 配置文件
config-data-label = 数据目录
config-profiles-label = 配置覆盖
config-show-failed = 无法显示配置：{ $reason }
file-exists = { $file } 已存在
help-config-exists = 加 --force 可覆盖，或直接编辑它
help-file-exists = 加 --force 可覆盖，或换一个文件名
cannot-write = 无法写入 { $file }：{ $reason }
config-written = 已写出 { $file }；请取消注释适用的项
support-written = 已写出 { $file }（{ $count } 个文件）：请发给技术支持
col-name = 名称
col-provider = 服务商
col-cooldown = 冷却期
cooldown-days = { $days } 天

## 传输
transfer-backup = 备份
transfer-export = 导出
transfer-import = 导入
transfer-verify = 回读
transfer-parameters = 参数

## 演示
demo-cannot-start = 演示：无法启动 `posagent { $command }`：{ $reason }
demo-bad-announcement = 它的启动信息是 { $line }
demo-no-field = 演示：模拟器没有给出它的 { $field }
demo-cannot-write = 演示：无法写入 { $file }：{ $reason }
demo-no-merchant = 演示：模拟终端没有绑定商户
demo-stopped = 演示已停止；它启动的所有进程也已停止
demo-data-dir = 演示数据目录：{ $dir }
demo-started = 已启动：旧机 { $old } 在 { $old_port }，空白替换机 { $new } 在 { $new_port }，服务商在 { $url }
demo-pulling = 拉取服务商下发的工单：
demo-not-pulled = 演示：没有拉取到服务商的工单
demo-order-invalid = 演示：服务商的工单未通过校验
demo-migrating = 迁移 { $old } → { $new }（工单 { $order }）：
demo-delivering = 把提交发送给服务商：
demo-finished = 演示完成：每一步都已完成并校验，进程已停止。
    {"  "}备份：{ $backup }
    {"  "}密码文件：{ $password_file }（可试 `7z l { $backup }` 或 `posagent backup verify { $backup } --password-file { $password_file }`）
    {"  "}服务商回执：{ $provider_receipt }
    {"  "}待打印签字的签收单：{ $receipt }
    {"  "}数据保存在 { $home } —— 可用 `POSAGENT_HOME={ $home } posagent jobs show { $job }` 查看；用完请删除

## 作业步骤：拒绝与校验
value-masked = （已脱敏）
value-hidden-differs = （隐藏的数字不同）
value-nothing = 无
mismatch-field = { $field }：工单为 { $order }，终端上为 { $terminal }
step-not-in-plan = “{ $step }”不是“{ $operation }”的步骤
refused-other-terminal = 该作业针对终端 { $expected }，但当前连接的是 { $serial }
migrate-needs-replacement = 换机迁移需要替换机的串口（--to）
refused-already-unbound = 终端已经是解绑状态
refused-binding-mismatch = 终端与工单不符：{ $problems }
refused-document = 无法读取证明材料 { $file }：{ $reason }
refused-same-card = 结算卡 { $card } 已经是当前绑定的卡
refused-card-cooldown = 结算卡 { $card } 于 { $unbound } 解绑；按配置 { $profile }，从 { $from } 起才能再次绑定
refused-clear-until = checks.card_cooldown_clear_until“{ $value }”不是 YYYY-MM-DD 格式的日期
refused-provider-cooldown = 服务商表示商户 { $mid } 的结算卡冷却期到 { $from }；届时才允许更换
cooldown-by-agent = 由本工具更换
cooldown-by-terminal = 终端报告的绑定日期
refused-merchant-cooldown = 商户 { $mid } 的结算卡在 { $last } 更换过（{ $who }）；按配置 { $profile }，从 { $from } 起才能再次更换
refused-cooldown-unknown = 终端没有报告结算卡的绑定日期，因此无法离线检查配置 { $profile } 对商户 { $mid } 的 { $days } 天冷却期；请向服务商确认现在是否允许更换
refused-no-replacement = 工单没有指定替换机
refused-no-activation-code = 缺少 replacement.activation_code；请向服务商索取该替换机的激活码
refused-replacement-bound = 替换机 { $serial } 已经是“{ $status }”状态（MID { $mid }）；请使用空白机，或先解绑它
cannot-create = 无法创建 { $dir }：{ $reason }
verify-unsettled = 结算后仍有 { $count } 笔交易未结算
verify-log-differs = 新机有 { $records } 条记录，SHA-256 为 { $sha256 }；旧机有 { $expected_records } 条，SHA-256 为 { $expected_sha256 }
verify-duplicates = 新机上有重复的交易
verify-old-still-bound = 旧机仍处于绑定状态
verify-field-differs = { $field }：读到 { $reads }，应为 { $expected }
abort-too-late = 旧机已解绑，新机已有其数据；请用 `posagent jobs resume { $job }` 完成迁移
verify-restore-readback = 终端回读的绑定与备份不一致
restore-archive-changed = 恢复开始后备份文件 { $file } 已被改动；请放回原文件再继续，或撤销该作业
restore-archive-unreadable = 无法读取备份文件：{ $reason }
restore-other-unit = 该备份属于终端 { $expected }，但当前连接的是 { $serial }
restore-readback-differs = 终端回读的内容不同（{ $fields }）
restore-no-backup = 恢复没有备份被覆盖的内容

## 改动列表中的绑定字段
diff-status = 状态
diff-mid = 商户号
diff-tid = 终端号
diff-merchant-name = 商户名称
diff-card = 结算卡
diff-account = 结算账户
diff-phone = 手机号
diff-card-or-account = 结算卡/账户

## 库错误：串口、终端、链路
ports-bad-pattern = { $env }：“{ $glob }”不是有效的通配符：{ $reason }
ports-serial-absent = 查找过的串口（{ $looked }）上都没有终端 { $serial } 应答
terminal-unavailable = { $port } 上的终端不可用：{ $reason }
terminal-refused = 终端拒绝了 { $command }：{ $reason }
terminal-wrong-secret = 操作员密钥错误：终端拒绝了它（锁定前还剩 { $left } 次机会）
terminal-locked-out = 多次密钥错误，终端已锁定；请在 { $seconds } 秒后重试
terminal-not-genuine = 终端无法证明它知道操作员密钥；它可能不是正品，或者密钥有误
terminal-another-unit = { $port } 现在连接的是终端 { $found }，不是 { $expected }；请重新连接 { $expected } 后重试
terminal-invalid = 终端发来了无效数据：{ $reason }
terminal-transfer-failed = { $object } 传输未通过校验：{ $what }
link-timeout = 尝试 { $attempts } 次后终端仍未应答 { $command }
link-busy = 终端执行 { $command } 时一直忙
link-stalled = 批量传输停在第 { $offset } 字节（共 { $total } 字节）
link-protocol = 协议错误：{ $reason }
port-closed = 串口已关闭（数据线被拔出或设备重启）
port-open-failed = 无法打开串口 { $port }：{ $reason }
port-io = 串口读写错误：{ $reason }
model-invalid-field = 字段 { $field } 无效：{ $reason }

## 库错误：工单、签名、服务商、数据库
auth-malformed = 工单 { $order }：{ $reason }；无法校验，因此没有做任何改动
auth-unknown-key = 工单 { $order } 使用密钥 { $key } 签名，但本机配置的服务商工单公钥中没有它（provider.order_key_files）；没有做任何改动
auth-bad-signature = 工单 { $order }：服务商签名校验失败——工单被改动过或不是服务商签发的；没有做任何改动
auth-key-not-valid = 工单 { $order } 签发于 { $issued }，不在密钥 { $key } 的有效期内；没有做任何改动
auth-expired = 工单 { $order } 有效期至 { $until }，而本机时钟为 { $now }；请向服务商申请新工单。没有做任何改动
auth-not-yet-valid = 工单 { $order } 从 { $issued } 起生效，晚于本机时钟（{ $now }）；请检查时钟。没有做任何改动
auth-other-technician = 工单 { $order } 是发给技术员 { $issued_to } 的，不是 { $technician }；没有做任何改动
sync-unreachable = 无法连接服务商 { $url }：{ $detail }
sync-untrusted = 服务商 { $url } 不受信任：{ $detail }
sync-refused = 服务商 { $url } 拒绝了本机：{ $detail }
store-too-new = 数据库 { $file } 的结构版本为 { $found }，比本 posagent 认识的（{ $known }）新；请使用写入它的新版 posagent
store-no-dir = 无法创建数据目录 { $dir }：{ $reason }
store-disk-full = 数据库 { $file }：磁盘已满；请释放空间后重试
store-failed = 数据库 { $file }：{ $reason }
profile-invalid = 配置 { $file }：{ $reason }
profile-unknown = 没有名为“{ $name }”的配置
profile-dir-unreadable = 无法读取配置目录 { $dir }：{ $reason }
receipt-write-failed = 无法写入签收单 { $file }：{ $reason }
seal-key = 本机密钥 { $file }：{ $reason }
seal-open = 加密数据已损坏，或是用另一把密钥加密的
orderfile-unknown-type = { $file }：未知的工单文件类型；请使用 .toml 文件（一张工单或 [[order]] 表）或 .csv 文件
orderfile-empty = { $file }：没有工单

## 字段值（工单校验）：值有什么问题
domain-empty = 为空
domain-bad-char = 含有 { $char }，此处不允许（请用 ASCII 数字{ $hint }）
domain-length = 有 { $got } 个字符，应为 { $expected }
domain-check-digit = 未通过 { $name } 校验位
domain-birth-range = 出生日期（{ $birth }）不在 1800-01-01 .. { $today } 之内
domain-bad-name-char = 含有 { $char }，不允许；姓名只能用汉字或拉丁字母、空格和间隔号 ·
domain-contains = 含有 { $char }
domain-too-long = 有 { $count } 个字符，最多允许 { $max } 个
hint-none = {""}
hint-with-x-allowed-last = ，最后一位可以是 X
hint-letters-ah-jn-p = 以及字母 A-H J-N P Q R T U W X Y
hint-names-take-cjk-latin = ；姓名只能用汉字或拉丁字母、空格和间隔号 ·
hint-ascii-letters = 和 ASCII 字母
hint-optionally-prefixed-by-86 = ，可加前缀 +86 或 0086
len-11-digits = 11 位数字
len-18-characters = 18 个字符
len-2-40-characters = 2 到 40 个字符
len-16-19-digits = 16 到 19 位数字
len-8-32-digits = 8 到 32 位数字
len-15-digits = 15 位数字
len-8-letters-digits = 8 位字母或数字
len-12-digits = 12 位数字
rule-all-zeros-card-number = 全是 0，不是卡号
rule-looks-like-spreadsheet-scientific = 看起来是电子表格的科学计数法（如 6.22202E+18）；数字已丢失，请以文本格式重新输入
rule-ends-0-spreadsheet-number = 以“.0”结尾，像电子表格的数字；请以文本格式重新输入
rule-all-zeros-account-number = 全是 0，不是账号
rule-starts-with-bare-86 = 以不带 + 的 86 开头；国家码请写成 +86 或 0086，或者省略
rule-not-china-mobile-number = 不在中国大陆手机号段内
rule-old-15digit-id-not = 是旧的 15 位身份证号，不接受；请提供 18 位身份证号
rule-area-code-starting-with = 地区码以 0 开头，这样的地区码不存在
rule-birth-date-that-does = 出生日期不存在
rule-have-digits-positions-3 = 第 3 到 8 位必须是数字（行政区划码）
rule-bound-unbound-active = 必须是 bound、unbound、active 之一
rule-rebindcard-rebindaccount-rebindphone-unbind = 必须是 rebind-card、rebind-account、rebind-phone、unbind、migrate 之一
rule-expired-lost-damaged-bankchange = 必须是 expired、lost、damaged、bank-change、device-replaced、business-change、compliance、data-migration、customer-request、other 之一
rule-sms-code-new-number = 必须是 sms（验证码发到新号码）或 counter（凭身份证到柜台办理）
rule-mmyy-eg-0929 = 必须是 MM/YY 格式，如 09/29
rule-month-outside-0112 = 月份不在 01-12 之内
rule-past-card-expired = 已过去；该卡已过期
rule-164-ascii-letters-digits = 必须是 1-64 个 ASCII 字母、数字、'.'、'_' 或 '-'
rule-432-ascii-letters-digits = 必须是 4-32 个 ASCII 字母、数字或连字符
rule-last-4-digits = 必须是最后 4 位数字
rule-number = 必须是数字
rule-company-individual = 必须是 company 或 individual
rule-632-ascii-letters-digits = 必须是 6-32 个 ASCII 字母或数字
rule-mmyy = 必须是 MMYY 格式

## 工单：字段有什么问题
csv-column-spaces = 列名“{ $column }”两侧有空格；请写成“{ $trimmed }”
csv-column-twice = 表头中列“{ $column }”出现了两次
value-bare-number = 是不带引号的数字；请写成带引号的字符串（"{ $value }"），以免丢失数字
value-list = 是列表；这里只要一个值
value-formula = 以“{ $first }”开头，电子表格会把它当作公式执行；请去掉它
value-not-text = 是{ $kind }；这里需要带引号的字符串
kind-boolean = 布尔值
kind-date = 日期
kind-list = 非字符串列表
value-file-outside = 必须是工单所在目录中的文件（不能用绝对路径，不能含“..”）
value-file-missing = 找不到文件：{ $file }
value-file-link-outside = （通过链接）指向了工单目录之外；请把文件复制到工单旁边
value-file-not-regular = { $file } 不是普通文件
value-evidence-list = 必须是文件名列表
field-unknown = 不是已知的工单字段（见 docs/orders.md）
field-required = 必填
field-settles-to = 必填，或填写 expect.account_last4：说明终端现在结算到哪里
field-settles-both = 与 expect.card_last4 同时给出；终端只结算到卡或账户之一，请说明是哪一个
field-not-used = “{ $operation }”不使用该字段；请删除它或检查业务类型
field-same-unit = 与 expect.serial 是同一台；替换机必须是另一台
field-op-unsupported = 配置 { $profile } 不支持“{ $operation }”
field-required-by = 按配置 { $profile }，“{ $operation }”必须填写
field-document-company = 按配置 { $profile }，企业商户必须提供此证明材料
field-document-individual = 按配置 { $profile }，个体商户必须提供此证明材料
field-required-agent = 有人代商户办理时必填（配置 { $profile }）
unit-yuan = 元
field-out-of-bounds = 按配置 { $profile }，必须在 { $min } 到 { $max } { $unit } 之间
field-id-repeated = 与第 { $line } 行工单的编号重复；编号必须唯一
order-incomplete = 工单不完整

## 连接服务商
agent-key-not-hex = 本机密钥文件 { $file }：应为 { $digits } 位十六进制数字
agent-key-length = 本机密钥文件 { $file }：应为 { $digits } 位十六进制数字，实际 { $found } 位
tls-bad-pin = 固定指纹“{ $pin }”：应为 SHA-256 指纹（64 位十六进制数字）
what-ca-bundle = CA 证书包
what-client-cert = 客户端证书
tls-ca-bundle = CA 证书包 { $file }：{ $reason }
tls-no-system-ca = 本机没有受信任的 CA 证书；请用 --provider-ca FILE 给出服务商的 CA
tls-setup = TLS：{ $reason }
tls-client-key = 客户端私钥 { $file }：{ $reason }
tls-client-pair = 客户端证书与私钥不匹配：{ $reason }
tls-client-half = --client-cert 和 --client-key 要么都给，要么都不给
tls-not-pinned = 它的证书（SHA-256 { $sha256 }）不是固定的证书之一
tls-unknown-issuer = 它的证书不是由本机信任的 CA 签发的；请用 --provider-ca FILE（或 config.toml 中的 provider.ca）给出服务商的 CA
tls-expired = 它的证书已过期；需要服务商更新证书（也请检查本机时钟）
tls-not-yet-valid = 它的证书尚未生效；请检查本机时钟
tls-wrong-name = 它的证书对应的主机名与 URL 不同
tls-cert-refused = 它的证书被拒绝（{ $reason }）
tls-client-cert-required = 它要求客户端证书；请给出 --client-cert FILE 和 --client-key FILE
tls-client-cert-refused = 它不接受本机的客户端证书；请检查 --client-cert 和 --client-key
tls-failed = TLS 失败：{ $reason }
url-invalid = 服务商 URL“{ $url }”：{ $reason }
url-not-https = 服务商 URL“{ $url }”：必须以 https:// 开头（提交只通过 TLS 传输）
url-no-host = 服务商 URL“{ $url }”：没有主机名
url-bad-host = 服务商 URL“{ $url }”：“{ $host }”不是主机名
net-no-connection = { $seconds } 秒内未能建立连接
net-no-handshake = { $seconds } 秒内未完成 TLS 握手
net-health = 它的健康检查返回 HTTP { $status }
net-bad-request = 无法为 { $path } 构造请求：{ $reason }
net-answer-too-long = 它的回复超过 { $max } 字节
net-no-answer = { $seconds } 秒内没有回复

## 签收单（双语打印，中文在前）
receipt-title = 终端绑定变更回执
receipt-merchant = 商户
receipt-merchant-name = 商户名称
receipt-mid = 商户编号
receipt-merchant-kind = 商户类型
receipt-terminal = 终端
receipt-serial = 终端序列号
receipt-profile = 机型配置
receipt-replacement = 替换终端
receipt-changes = 变更内容
receipt-no-change = 未完成，无变更记录
receipt-procedure = 操作步骤
receipt-backup-section = 备份与验证
receipt-backup-file = 备份文件
receipt-backup-sha256 = 备份 SHA-256
receipt-test = 测试交易
receipt-test-value = { $fen } 分 · auth { $auth } · RRN { $rrn }
receipt-provider = 服务商同步
receipt-sync-state = 同步状态
receipt-provider-receipt = 服务商回执
receipt-reason = 说明
receipt-order = 工单
receipt-signed = 服务商已签名（密钥 { $key }）
receipt-unsigned = 未签名（本地工单）
receipt-order-id = 工单号
receipt-signature = 签名
receipt-technician = 技术员
receipt-started = 开始时间
receipt-merchant-signature = 商户签字
receipt-technician-signature = 技术员签字
receipt-date = 日期
receipt-field = 项目
receipt-before = 变更前
receipt-after = 变更后
receipt-status = 状态
receipt-tid = 终端号
receipt-card = 结算卡
receipt-card-holder = 持卡人
receipt-expiry = 有效期
receipt-account = 结算账户
receipt-account-holder = 开户名
receipt-bank = 开户行
receipt-phone = 手机号
receipt-step-order = 工单
receipt-op-rebind-card = 更换结算卡
receipt-op-rebind-account = 更换结算账户
receipt-op-rebind-phone = 更换手机号
receipt-op-unbind = 解绑
receipt-op-migrate = 换机迁移
receipt-op-restore = 从备份恢复
receipt-state-done = 已完成
receipt-state-running = 进行中
receipt-state-interrupted = 已中断
receipt-state-refused = 已拒绝
receipt-state-aborted = 已回滚
receipt-state-cancelled = 已取消
receipt-state-planned = 仅预演
receipt-sync-pending = 待上传
receipt-sync-sending = 上传中
receipt-sync-accepted = 服务商已受理
receipt-sync-rejected = 服务商拒绝
receipt-sync-dead = 无法送达
receipt-phase-done = 完成
receipt-phase-failed = 失败
receipt-phase-refused = 拒绝
receipt-phase-interrupted = 中断
receipt-phase-compensated = 已回滚
eta = 预计还需 {$minutes} 分 {$seconds} 秒

## --help：选项（cmd-<命令>--<id> 仅用于一个命令，arg-<id> 用于所有有该选项的命令）
arg-port = 终端的串口（如 /dev/ttyUSB0）。不给时会在串口（按 USB 编号匹配配置）以及 config.toml 的 `[ports] extra` 和 POSAGENT_PORTS 指定的位置中自动查找终端；找到多台时会询问用哪一台
cmd-rebind--port = 终端的串口（默认：工单 expect.serial 对应的终端应答的串口，在所有串口和 POSAGENT_PORTS 指定的位置中查找）
cmd-unbind--port = 终端的串口（默认：工单 expect.serial 对应的终端应答的串口，在所有串口和 POSAGENT_PORTS 指定的位置中查找）
cmd-jobs-resume--port = 终端现在所在的串口（默认：原来的串口，否则按序列号查找，也查 POSAGENT_PORTS）；序列号不同的终端会被拒绝
cmd-jobs-abort--port = 终端现在所在的串口（默认：原来的串口，否则按序列号查找，也查 POSAGENT_PORTS）；序列号不同的终端会被拒绝
cmd-sim-terminal--port = 在已有的串口设备上提供服务
arg-serial = 在找到的终端中，使用这个序列号的那一台
cmd-sim-terminal--serial = 模拟终端的序列号（默认：由种子生成）
arg-profile = 使用的配置（默认：按 USB 编号匹配，否则按终端的应答）
cmd-backup--profile = 终端的配置（默认：按 USB 编号匹配，否则按终端的应答）
cmd-restore--profile = 终端的配置（默认：备份中记录的配置）
cmd-sim-terminal--profile = 模拟哪个配置的终端
arg-secret-file = 存放操作员密钥的文件（否则用 POSAGENT_SECRET，再否则提示输入）
cmd-sim-terminal--secret_file = 终端接受的操作员密钥（默认：文档中的演示密钥）
arg-file = 工单（TOML）或多张工单（CSV，或含 [[order]] 表的 TOML）
arg-url = 服务商 URL，https://主机[:端口][/前缀]（否则用 config.toml 中的 provider.url）
arg-provider-ca = 信任的服务商 CA 证书包（PEM）（否则用 provider.ca，再否则用系统根证书）
arg-client-cert = 双向 TLS 的客户端证书（PEM）
arg-client-key = 客户端证书的私钥（PEM）
arg-agent-key-file = 存放本机签名密钥的文件，64 位十六进制数字（否则用 provider.agent_key_file）
arg-out = 要写出的 zip 文件
cmd-backup--out = 要写出的备份文件
cmd-jobs-receipt--out = 写到哪里（默认：数据目录下的 receipts/作业号.html）
arg-force = 覆盖已有的文件
cmd-backup--force = 覆盖已有的备份文件
arg-evidence = 要放入备份的证明材料文件
arg-password-file = 存放备份密码的文件（否则用 POSAGENT_BACKUP_PASSWORD，再否则提示输入）
cmd-backup-verify--password_file = 存放备份密码的文件
arg-yes = 不询问确认
arg-to-replacement = 该备份属于另一台终端（替换机）
arg-order = 工单（TOML）
arg-dry-run = 执行所有只读检查（查找终端、认证、比对绑定与工单、证明材料、冷却期），不做任何改动，不记录作业，显示计划
arg-verify = 换机迁移如何校验新机上的数据：按终端给出的摘要（不支持时回读），或逐条回读
cmd-jobs-resume--verify = 尚待校验的换机迁移如何校验新机上的数据（见 `migrate --verify`）
cmd-jobs-abort--verify = 尚待校验的换机迁移如何校验新机上的数据（见 `migrate --verify`）
arg-cooldown-checked-by-provider = 服务商已确认商户的结算卡冷却期已过（终端不报告结算卡绑定日期时需要；会记入审计）
arg-from = 旧机的串口（默认：工单 expect.serial 对应的终端应答的串口）
arg-to = 换机迁移的替换机现在所在的串口（否则按序列号查找）
cmd-migrate--to = 替换机的串口（默认：replacement.serial 对应的终端应答的串口）
arg-plan = 批量计划：CSV（每行一张工单）或 TOML（[[order]] 表）
arg-pulled = 不用计划：执行所有已拉取、尚未执行且终端已连接的工单
arg-jobs = 并行作业数，每台终端一个
arg-ports = 只探测这些串口（可重复）；默认：本机所有串口
arg-watch = 持续运行，一旦能连上服务商就发送
arg-interval = 与 --watch 一起用：多久检查一次待发送内容和服务商，单位秒
arg-max-wait = 不用 --watch 时：等待在这么多秒内到期的重试
arg-pty = 创建一个伪终端，并在标准输出打印 {"{"}"port": ..., "serial": ...{"}"}
arg-link = 在 PATH 处保持一个指向当前伪终端的符号链接（模拟重新插拔后仍然有效）
arg-transactions = 交易记录中的交易数（部分未结算）
cmd-demo--transactions = 旧机上的交易数
arg-seed = 生成可重现数据的种子
cmd-sim-provider--seed = 故障随机数的种子
arg-baud = 按此波特率控制发送速度（8N1：每秒字节数 = 波特率 / 10）
cmd-demo--baud = 模拟终端的线路速率
arg-faults = 故障，如 bitflip=1e-5,drop=1e-5,stall=200ms,busy=0.1,slow=50ms,unplug=4096
cmd-sim-provider--faults = 故障，如 unavailable=0.2,delay=100ms,reset_before=0.1,reset_after=0.1,slow_handshake=500ms,reject=0.05
arg-state = 状态文件；用同一个文件重启相当于断电重启
arg-blank = 一台新的、未绑定的替换机
arg-account = 启动时绑定银行账户而不是结算卡
arg-legacy = 模拟第一版协议的终端（没有 DIGEST 命令）
arg-settlement-since = 结算卡或账户的绑定日期，YYYYMMDD，即 STATUS 报告的日期；`unknown` 表示终端不报告
arg-listen = 监听地址；端口 0 表示自动选一个空闲端口
arg-tls-dir = 证书、本机密钥和账本（首次启动时生成；默认 DATA/sim-provider）
arg-require-client-cert = 拒绝没有该目录 CA 签发的客户端证书的连接
arg-card-cooldown-days = 同一商户两次更换结算卡之间的天数
arg-orders = 签发这些工单（CSV：批量计划的列加上 `technician`，可选 `valid_until` 和 `checks.NAME`）
arg-report = 打印该目录中的服务商已处理的内容（JSON）后退出
bar-eta = 剩余
bar-sync = 同步

## 发送与审计记录
drain-interrupted = 发送中断：{ $detail }
drain-unreadable = 无法读懂服务商的回复
drain-no-receipt = 服务商受理了它，但没有给回执
drain-no-reason = 未说明原因
drain-no-answer = 服务商没有回复这一条
drain-unexpected-http = 意外的 HTTP { $status }
audit-gap = 此处应是第 { $expected } 条记录；有记录被删除或插入
audit-link-broken = 它与上一条记录的链接断了；之前有记录被删除、插入或调换顺序
audit-edited = 它的内容被改过
audit-anchor-missing = 数据库中的审计锚点不见了
audit-cut-anchor = 记录末尾的第 { $from }..{ $to } 条被截掉了（数据库锚点）
audit-last-differs-anchor = 最后一条记录与数据库锚点记录的不同
audit-job-record-missing = 第 { $record } 条记录（作业 { $job } 的最后一条）不见了
audit-job-record-differs = 第 { $record } 条记录（作业 { $job } 的最后一条）与作业记下的不同
audit-head-missing = 头文件 { $file } 不见了
audit-head-damaged = 头文件 { $file } 已损坏
audit-cut-head = 记录末尾的第 { $from }..{ $to } 条被截掉了
audit-last-differs-head = 最后一条记录与头文件记录的不同

## 线路（终端发来的无法读取的内容）
frame-short = 帧太短（{ $bytes } 字节）
frame-long = 帧超过 { $max } 字节
frame-crc = CRC 校验不符
frame-version = 未知的协议版本 { $version }
frame-kind = 未知的帧类型 { $kind }
frame-length = 长度字段为 { $declared } 字节，帧内实有 { $actual } 字节
frame-escape = 无效的转义序列
tlv-truncated = TLV 在第 { $at } 字节处被截断
tlv-long-tag = 第 { $at } 字节处的标签超过 3 字节
tlv-length-form = 不支持的长度格式 0x{ $form }
tlv-too-long = { $bytes } 字节的值超过上限
tlv-too-deep = 嵌套超过 { $max } 层
tlv-missing = 缺少标签 { $tag }
tlv-bad = 标签 { $tag }：{ $what }

## 库中的其他消息
input-not-utf8 = 不是 UTF-8 文本（{ $reason }）
disk-full = 磁盘已满；请释放空间后重试
terminal-count-differs = 终端声明有 { $announced } 条记录，实际发来 { $sent } 条
terminal-bad-offset = 续传位置 { $offset } 无效
terminal-too-many-imported = 发送了 { $sent } 条记录，终端却报告导入了 { $added } 条
probe-no-answer = 按各配置的串口设置都没有得到应答
probe-no-ports = 没有找到
profile-name-differs = 键 `name` 是“{ $name }”，但文件对应的是“{ $expected }”；请使两者一致
profile-field-unused = 键 `operations.{ $operation }.required_fields`：“{ $field }”不是 { $operation } 使用的字段
profile-not-document = 键 `documents.{ $key }`：“{ $field }”不是证明材料字段
profile-serial = 键 `serial`：data_bits 必须为 5-8，stop_bits 为 1-2，baud 大于 0
profile-bounds = 键 `{ $key }`：min 必须不小于 0 且不大于 max
what-profile-override = 配置覆盖文件
state-restored-unverified = 绑定已恢复，尚未校验
cannot-read = 无法读取 { $file }：{ $reason }
order-key-invalid = 工单公钥文件 { $file }：{ $reason }
order-key-not-ed25519 = 工单公钥文件 { $file }：应为 64 位十六进制数字的 ed25519 公钥
seal-key-length = 必须是 { $bytes } 字节；请从密钥备份中恢复
manpage-failed = 无法写出手册页：{ $reason }
sim-where = 请指定在哪里提供服务：--pty 或 --port P
port-busy = 串口正被其他程序占用；请关闭该程序后重试
port-not-utf8 = 路径不是有效的 UTF-8
orders-answer-invalid = 工单接口的回复不符合 docs/sync-api.md 的描述：{ $reason }
orders-expired-at = 已于 { $at } 过期
sim-no-pty = 只有 Unix 上才有伪终端；请用 --port COMn 在已有串口上提供服务（虚拟串口对的一端）
sim-baud-zero = --baud 必须大于 0
sim-bad-since = --settlement-since { $value }：请给出 YYYYMMDD 格式的日期，或 unknown

## 命令行错误（英文时由 clap 自己说明）
usage-unknown-argument = 无法识别的参数“{ $arg }”
usage-unknown-command = 未知的命令“{ $name }”
usage-invalid-value = “{ $arg }”的值“{ $value }”无效（可用的值：{ $valid }）
usage-value-refused = “{ $arg }”的值“{ $value }”无效：{ $reason }
usage-missing = 缺少必需的参数：{ $args }
usage-missing-command = 需要给出一个命令
usage-conflict = “{ $arg }”不能与“{ $other }”同时使用
help-usage = `posagent --help` 列出所有命令，`posagent 命令 --help` 列出其选项
help-job-busy = 请先继续（`posagent jobs resume { $job }`）或撤销（`posagent jobs abort { $job }`）该作业
help-job-stopped = 运行 `posagent jobs resume { $job }` 继续，或运行 `posagent jobs abort { $job }` 恢复备份
help-job-resume = 请重新连接后运行 `posagent jobs resume { $job }`：每一步都记录在日志中；继续会从中断处接着做，撤销会恢复备份
help-jobs-list = `posagent jobs list` 可列出作业
help-confirm-or-yes = 无人应答提示时请加 --yes

## 验证手机号 (verify_phone)
step-verify-phone = 验证手机号
code-wrong = 验证码不对（还可尝试 { $left } 次）
code-expired = 验证码已过期；请重新开始作业以获取新的验证码
code-exhausted = 验证码错误次数过多；请重新开始作业以获取新的验证码
code-refused = 服务商拒绝了验证码（{ $code }）：{ $message }
code-answer-invalid = 服务商对 { $path } 的应答无效：{ $reason }
code-no-provider = 未配置服务商（config.toml 中的 provider.url）
code-none-given = 未提供验证码
code-sent-new = 验证码已发送至新号码 { $phone }。
code-sent-bound = 验证码已发送至商户绑定的手机 { $phone }。
code-again = 刚才的验证码不对。
code-until = （{ $until } 前有效，还可尝试 { $left } 次）
code-waiting-file = 正在等待写入 { $file } 的验证码…
code-prompt = 商户收到的验证码：
what-code-file = 验证码文件
profile-confirm-by-sms = 键 `operations.{ $operation }.confirm_by_sms`：只有更换绑定卡可以用短信确认
profile-not-counter-document = 键 `operations.{ $operation }`：“{ $field }”不能作为柜台材料（只有换绑手机号有柜台办理；材料可为：scan.holder_id、scan.agent_id、agent.authorisation、agent.id_number、merchant.legal_rep_id）
field-required-counter = 柜台办理（new.phone_path = "counter"）时必填（配置 { $profile }）：技术员所见原件的扫描件
refused-no-phone-bound = 终端未绑定手机，无法用验证码确认此变更；请服务商签发附有商户确认的工单
refused-code-needs-technician = 工单 { $order } 需要商户收到的一次性验证码，但此处无法询问：请在终端上或加 --sms-code-file FILE 用 `posagent rebind` 执行，或请服务商签发附有商户验证结果的工单
refused-phone-offline = 无法向新号码 { $phone } 发送验证码：{ $detail }。请等有网络后重新开始，或改走柜台办理（new.phone_path = "counter"，附持有人身份证件并加 --documents-checked）
refused-card-sms-offline = 更换结算卡前，服务商须向商户绑定的手机 { $phone } 发送验证码，但无法连接服务商：{ $detail }。请等有网络后重新开始，或请服务商签发附有商户确认的工单
refused-attestation-invalid = 签名工单的 checks.{ $check } 不是过去的时间：“{ $value }”
refused-attestation-number = 签名工单的 checks.{ $check } 为 { $attested }，与工单号码 { $phone } 不符；请服务商更正工单
refused-originals-not-seen = 柜台办理须由您查看以下材料的原件：{ $documents }；查看后请加 --documents-checked 重新运行作业（会记录您的姓名）
help-phone-offline = 未做任何更改，也未加入队列
arg-sms-code-file = 在 FILE 写入后从中读取商户收到的一次性验证码（读取后删除该文件）；否则提示输入
arg-documents-checked = 柜台办理换绑手机号：您已查看工单所附材料的原件（会记录您的姓名）
arg-sms-log = 以向 FILE 追加每条消息一行 JSON 的方式“发送”一次性验证码（默认：目录中的 sms.jsonl）
arg-sms-ttl = 一次性验证码的有效秒数
arg-line-baud = 线路实际的传输速率（与 --baud 不同时）；终端按 --baud 设定超时
arg-buffer = 线路在其速率之前缓冲的字节数，如 USB 串口转换器或操作系统队列（0：不缓冲）
