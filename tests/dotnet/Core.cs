// The double's session: login, connections, order entry, queries and the threads events come from.
//
// Each kind of event has its own thread, as with the real DLL: session (login status and
// connection events), trade (OnReply, OnMatch), query (OnQueryReply, OnQueryMatch), account
// (OnPositionData) and quote (OnTickDataTrade). No lock is held while an event is raised: a
// handler in Python needs the GIL, and a Python thread calling into this DLL may hold it.
using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading;

namespace PFCF
{
    sealed class Dispatcher
    {
        readonly BlockingCollection<Action> queue = new BlockingCollection<Action>();
        readonly Core core;

        public Dispatcher(Core core, string name)
        {
            this.core = core;
            new Thread(Run) { IsBackground = true, Name = "pfcf-" + name }.Start();
        }

        public void Post(Action action) { queue.Add(action); }

        void Run()
        {
            foreach (var action in queue.GetConsumingEnumerable()) core.Guard(action);
        }
    }

    /// Runs actions after a delay, on a thread of its own, in the order they fall due (ties in
    /// the order given): the late acknowledgements of ACK_DELAY_MS.
    sealed class Later
    {
        readonly Core core;
        readonly object gate = new object();
        readonly List<KeyValuePair<long, Action>> queue = new List<KeyValuePair<long, Action>>();
        readonly Stopwatch clock = Stopwatch.StartNew();
        Thread thread;

        public Later(Core core) { this.core = core; }

        public void After(int ms, Action action)
        {
            lock (gate)
            {
                long due = clock.ElapsedMilliseconds + ms;
                int at = queue.FindLastIndex(item => item.Key <= due) + 1;
                queue.Insert(at, new KeyValuePair<long, Action>(due, action));
                if (thread == null)
                {
                    thread = new Thread(Run) { IsBackground = true, Name = "pfcf-ack" };
                    thread.Start();
                }
                Monitor.Pulse(gate);
            }
        }

        void Run()
        {
            while (true)
            {
                Action next;
                lock (gate)
                {
                    while (true)
                    {
                        if (queue.Count == 0) { Monitor.Wait(gate); continue; }
                        long wait = queue[0].Key - clock.ElapsedMilliseconds;
                        if (wait <= 0) break;
                        Monitor.Wait(gate, (int)Math.Min(wait, int.MaxValue));
                    }
                    next = queue[0].Value;
                    queue.RemoveAt(0);
                }
                core.Guard(next);
            }
        }
    }

    sealed class Core
    {
        public readonly DoubleConfig Config;
        public readonly Faults Faults;
        public readonly Exchange Exchange;
        readonly PFCFAPI api;
        readonly Dispatcher session, trade, query, account;
        readonly HashSet<string> registered = new HashSet<string>();
        readonly object gate = new object();
        volatile bool loggedIn, tradeUp, quoteUp;
        readonly List<KeyValuePair<DTrade.OrderObject, string>> held = new List<KeyValuePair<DTrade.OrderObject, string>>();
        readonly Later later;
        readonly Random ackDelays;  // apart from the market's, so the ticks stay the same
        Thread quote, releaser;
        int seq, burst, handlerErrors, ordersTaken;
        long delivered;

        public Core(PFCFAPI api, DoubleConfig config)
        {
            this.api = api;
            Config = config;
            Faults = config.Faults;
            Exchange = new Exchange(config);
            session = new Dispatcher(this, "session");
            trade = new Dispatcher(this, "trade");
            query = new Dispatcher(this, "query");
            account = new Dispatcher(this, "account");
            later = new Later(this);
            ackDelays = new Random(config.Seed);
        }

        public bool LoggedIn { get { return loggedIn; } }
        public int HandlerErrors { get { return Volatile.Read(ref handlerErrors); } }
        public long Delivered { get { return Interlocked.Read(ref delivered); } }
        public int BurstLeft { get { return Volatile.Read(ref burst); } }
        public int OrdersTaken { get { return Volatile.Read(ref ordersTaken); } }
        public double TicksPerSecond { get; set; }

        /// Runs an event raise; a handler that throws is counted (the gateway's never should).
        public void Guard(Action action)
        {
            try { action(); }
            catch (Exception error)
            {
                Interlocked.Increment(ref handlerErrors);
                Console.Error.WriteLine("pfcf-double: an event handler threw: " + error.Message);
            }
        }

        public void Login(string user, string password, string ip)
        {
            session.Post(() =>
            {
                Thread.Sleep(Config.LoginLatencyMs);
                string failure = Faults.FailLogin ? "injected login failure"
                    : user != Config.User || password != Config.Password ? "帳號或密碼錯誤" : null;
                if (failure != null)
                {
                    api.RaiseLoginStatus("登入失敗:" + failure);
                    return;
                }
                Exchange.Open();
                lock (gate) tradeUp = quoteUp = loggedIn = true;
                StartQuotes();
                RaiseConnections(true);
                api.RaiseLoginStatus("登入成功");
            });
        }

        public void Logout()
        {
            loggedIn = false;
            lock (gate) registered.Clear();
            Exchange.Close();
        }

        public DTrade.OrderResult Order(DTrade.OrderObject order)
        {
            string number = Interlocked.Increment(ref seq).ToString();
            string refusal = !loggedIn ? "E100 not logged in"
                : !tradeUp ? "E101 trade connection down"
                : !Config.Accounts.Contains(order.ACTNO ?? "") ? "E102 unknown account " + order.ACTNO
                : null;
            if (refusal != null) return Result(false, number, refusal, order.NOTE);
            Interlocked.Increment(ref ordersTaken);
            Exchange.Taken(number, order.NOTE);
            if (Holding) Hold(order, number);
            else Book(order, number);
            return Result(true, number, null, order.NOTE);
        }

        bool Holding
        {
            get { return Faults.HoldOrders || (Config.HoldOrdersPath != "" && System.IO.File.Exists(Config.HoldOrdersPath)); }
        }

        void Book(DTrade.OrderObject order, string number)
        {
            int ackMs = AckDelayMs();
            BookOne(order, number, ackMs);
            if (Faults.DuplicateOrders) BookOne(order, number, ackMs);
        }

        void BookOne(DTrade.OrderObject order, string number, int ackMs)
        {
            if (ackMs <= 0)
            {
                Post(Exchange.Place(order, number, Faults.RejectOrders, false));
                return;
            }
            var reports = Exchange.Place(order, number, Faults.RejectOrders, true);
            string orderNo = reports[0].Reply.orderNo;  // the acknowledgement always comes first
            later.After(ackMs, () =>
            {
                Exchange.Acknowledge(orderNo);
                Post(reports);
            });
        }

        /// This order's acknowledgement delay: 0..AckDelayMs, drawn per order.
        int AckDelayMs()
        {
            int most = Faults.AckDelayMs;
            if (most <= 0) return 0;
            lock (ackDelays) return ackDelays.Next(0, most + 1);
        }

        /// Keeps the order out of the book until holding ends, then books the held ones in order.
        void Hold(DTrade.OrderObject order, string number)
        {
            lock (gate)
            {
                held.Add(new KeyValuePair<DTrade.OrderObject, string>(order, number));
                if (releaser != null) return;
                releaser = new Thread(Release) { IsBackground = true, Name = "pfcf-release" };
                releaser.Start();
            }
        }

        void Release()
        {
            while (true)
            {
                Thread.Sleep(10);
                if (Holding) continue;
                List<KeyValuePair<DTrade.OrderObject, string>> due;
                lock (gate)
                {
                    due = new List<KeyValuePair<DTrade.OrderObject, string>>(held);
                    held.Clear();
                    if (due.Count == 0) { releaser = null; return; }
                }
                foreach (var pair in due) Guard(() => Book(pair.Key, pair.Value));
            }
        }

        public DTrade.OrderResult Replace(DTrade.ReplaceObject replace)
        {
            string number = Interlocked.Increment(ref seq).ToString();
            string refusal = !loggedIn ? "E100 not logged in"
                : !tradeUp ? "E101 trade connection down"
                : replace.REPLACETYPE != DTrade.ReplaceTypeEnum.Cancel ? "E103 only Cancel is supported"
                : null;
            if (refusal == null)
            {
                var reports = Exchange.Cancel(replace.ACTNO, replace.ORDERNO, out refusal);
                if (refusal != null) refusal = "E104 " + refusal;
                else Post(reports);
            }
            return Result(refusal == null, number, refusal, replace.NOTE);
        }

        public void QueryReplies(string actno)
        {
            query.Post(() =>
            {
                var replies = loggedIn ? Exchange.Replies(actno) : new List<ReplyData>();
                if (replies.Count == 0) api.DTradeLib.RaiseQueryReply(0, 0, null);
                for (int i = 0; i < replies.Count; i++) api.DTradeLib.RaiseQueryReply(replies.Count, i + 1, replies[i]);
            });
        }

        public void QueryMatches(string actno)
        {
            query.Post(() =>
            {
                var matches = loggedIn ? Exchange.Matches(actno) : new List<MatchData>();
                if (matches.Count == 0) api.DTradeLib.RaiseQueryMatch(0, 0, null);
                for (int i = 0; i < matches.Count; i++) api.DTradeLib.RaiseQueryMatch(matches.Count, i + 1, matches[i]);
            });
        }

        public void QueryPositions(string actno, string product)
        {
            account.Post(() =>
            {
                if (!loggedIn || !Config.Accounts.Contains(actno))
                {
                    api.DAccountLib.RaisePositionError("E201", "帳號錯誤 " + actno);
                    return;
                }
                var views = Exchange.Positions(actno, product);
                if (views.Count == 0) api.DAccountLib.RaisePosition(0, 0, actno, null);
                for (int i = 0; i < views.Count; i++) api.DAccountLib.RaisePosition(views.Count, i + 1, actno, views[i]);
            });
        }

        public void Register(string symbol) { lock (gate) registered.Add(symbol ?? ""); }
        public void Unregister(string symbol) { lock (gate) registered.Remove(symbol ?? ""); }

        public string[] Registered()
        {
            lock (gate) return registered.Where(s => Config.Symbols.Contains(s)).OrderBy(s => s).ToArray();
        }

        /// Both connections drop now (subscriptions are lost) and come back after `ms`.
        public void Disconnect(int ms)
        {
            tradeUp = quoteUp = false;
            lock (gate) registered.Clear();
            session.Post(() => RaiseConnections(false));
            new Thread(() =>
            {
                Thread.Sleep(ms);
                session.Post(() =>
                {
                    tradeUp = quoteUp = true;
                    RaiseConnections(true);
                });
            }) { IsBackground = true, Name = "pfcf-reconnect" }.Start();
        }

        public void Burst(int count) { Interlocked.Add(ref burst, count); }

        public void InjectTick(string symbol, string price)
        {
            session.Post(() => api.DQuoteLib.RaiseRawTick(symbol, price));
        }

        public void InjectError(string message) { session.Post(() => api.RaiseErrorData(message)); }

        /// Sends an order's reports from the trade thread, with the faults switched on.
        void Post(List<Report> reports)
        {
            var steps = new List<Report>();
            foreach (var report in reports)
            {
                steps.Add(report);
                if (report.Match != null && Faults.DuplicateMatches) steps.Add(report);
            }
            if (Faults.OutOfOrder) steps.Reverse();
            int delay = Faults.ReplyDelayMs;
            if (delay > 0) trade.Post(() => Thread.Sleep(delay));
            foreach (var step in steps)
            {
                var report = step;
                trade.Post(() =>
                {
                    if (report.Reply != null) api.DTradeLib.RaiseReply(report.Reply);
                    else api.DTradeLib.RaiseMatch(report.Match);
                });
            }
        }

        void RaiseConnections(bool up)
        {
            Guard(() => api.DQuoteLib.RaiseConnection(up));
            Guard(() => api.DTradeLib.RaiseConnection(up));
            Guard(() => api.DAccountLib.RaiseConnection(up));
            Guard(() => api.NoticeLib.RaiseConnection(up));
        }

        static DTrade.OrderResult Result(bool sent, string number, string refusal, string note)
        {
            string[] error = (refusal ?? "0 ").Split(new[] { ' ' }, 2);
            return new DTrade.OrderResult { ISSEND = sent, SEQ = number, ERRORCODE = error[0], ERRORMSG = error[1], NOTE = note ?? "" };
        }

        void StartQuotes()
        {
            lock (gate)
            {
                if (quote != null) return;
                quote = new Thread(RunQuotes) { IsBackground = true, Name = "pfcf-quote" };
                quote.Start();
            }
        }

        /// Trades the market at TicksPerSecond over all symbols (delivering registered ones), or
        /// as fast as it can while a burst is pending (registered symbols only), until logout.
        void RunQuotes()
        {
            var watch = Stopwatch.StartNew();
            double due = 0;
            int next = 0;
            while (true)
            {
                double now = watch.Elapsed.TotalMilliseconds;
                if (!loggedIn)
                {
                    lock (gate) if (!loggedIn) { quote = null; return; }  // the next login starts one
                }
                if (!quoteUp) { Thread.Sleep(2); due = now; continue; }
                if (Volatile.Read(ref burst) > 0)
                {
                    var symbols = Registered();
                    if (symbols.Length == 0) { Thread.Sleep(1); continue; }
                    Emit(symbols[next++ % symbols.Length]);
                    Interlocked.Decrement(ref burst);
                    continue;
                }
                double rate = TicksPerSecond;
                if (rate <= 0) { Thread.Sleep(5); due = now; continue; }
                if (now < due) { Thread.Sleep(Math.Max(1, (int)(due - now))); continue; }
                due = Math.Max(due + 1000.0 / rate, now - 100);
                Emit(Config.Symbols[next++ % Config.Symbols.Count]);
            }
        }

        void Emit(string symbol)
        {
            int price, quantity;
            long total;
            var reports = Exchange.Trade(symbol, out price, out quantity, out total);
            if (price == 0) return;
            bool deliver;
            lock (gate) deliver = registered.Contains(symbol);
            if (deliver)
            {
                Guard(() => api.DQuoteLib.RaiseTick(symbol, price, quantity, total));
                Interlocked.Increment(ref delivered);
            }
            if (reports.Count > 0) Post(reports);
        }
    }
}
