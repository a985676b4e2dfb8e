// Test-only configuration and fault injection of the double (the real DLL has none of this).
//
// Read from the environment when a PFCFAPI is created, so a gateway process can be configured
// from outside; in-process tests may also flip faults at run time through `PFCFAPI.Double`.
//   PFCF_DOUBLE_STATE_PATH       the broker's state file (default ./pfcf-double-state.tsv)
//   PFCF_DOUBLE_USER, _PASSWORD  the one login accepted (default sim / sim)
//   PFCF_DOUBLE_ACCOUNTS         UserOrderSet, comma-separated (default SIM-0001)
//   PFCF_DOUBLE_SYMBOLS          listed futures (default TXFL6,MXFL6,TMFL6)
//   PFCF_DOUBLE_TICKS_PER_S      market rate over all symbols (default 20)
//   PFCF_DOUBLE_SEED, _START_PRICE, _MAX_QUANTITY   (default 1, 23000, 100)
//   PFCF_DOUBLE_REJECT_ORDERS    true: every order is rejected ("injected rejection")
//   PFCF_DOUBLE_REPLY_DELAY_MS   the trade thread waits this long before an order's reports
//   PFCF_DOUBLE_DUPLICATE_MATCHES  true: every OnMatch is raised twice
//   PFCF_DOUBLE_OUT_OF_ORDER     true: an order's reports come in reverse order
//   PFCF_DOUBLE_FAIL_LOGIN       true: every login fails
//   PFCF_DOUBLE_HOLD_ORDERS_PATH while this file exists, orders are taken (ISSEND true) but reach
//                                the book, queries and reports only once it is removed: a broker
//                                that acknowledges late (the state file records them on arrival)
//   PFCF_DOUBLE_DUPLICATE_ORDERS true: every order is booked twice under its NOTE (two order numbers)
//   PFCF_DOUBLE_ACK_DELAY_MS     every order is booked when taken, but acknowledged (listed by
//                                queries, reported, matched when resting) a random 0..N ms later,
//                                each on its own clock: acknowledgements come late, asynchronously
//                                and not always in the order sent. Positions count its fills at
//                                once, as a broker's account server may. A restart lists it at once.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace PFCF
{
    public sealed class Faults
    {
        public volatile bool RejectOrders, DuplicateMatches, OutOfOrder, FailLogin, HoldOrders, DuplicateOrders;
        public volatile int ReplyDelayMs, AckDelayMs;
    }

    public sealed class DoubleConfig
    {
        public string StatePath, User, Password, HoldOrdersPath;
        public List<string> Accounts, Symbols;
        public double TicksPerSecond;
        public int Seed, StartPrice, MaxQuantity, LoginLatencyMs = 20;
        public Faults Faults = new Faults();

        public static DoubleConfig FromEnvironment()
        {
            var config = new DoubleConfig
            {
                StatePath = Read("STATE_PATH", "pfcf-double-state.tsv"),
                User = Read("USER", "sim"),
                Password = Read("PASSWORD", "sim"),
                Accounts = List(Read("ACCOUNTS", "SIM-0001")),
                Symbols = List(Read("SYMBOLS", "TXFL6,MXFL6,TMFL6")),
                TicksPerSecond = double.Parse(Read("TICKS_PER_S", "20"), CultureInfo.InvariantCulture),
                Seed = Number("SEED", 1),
                StartPrice = Number("START_PRICE", 23000),
                MaxQuantity = Number("MAX_QUANTITY", 100),
                HoldOrdersPath = Read("HOLD_ORDERS_PATH", ""),
            };
            config.Faults.RejectOrders = Flag("REJECT_ORDERS");
            config.Faults.ReplyDelayMs = Number("REPLY_DELAY_MS", 0);
            config.Faults.DuplicateMatches = Flag("DUPLICATE_MATCHES");
            config.Faults.OutOfOrder = Flag("OUT_OF_ORDER");
            config.Faults.FailLogin = Flag("FAIL_LOGIN");
            config.Faults.DuplicateOrders = Flag("DUPLICATE_ORDERS");
            config.Faults.AckDelayMs = Number("ACK_DELAY_MS", 0);
            return config;
        }

        static string Read(string name, string fallback)
        {
            string value = Environment.GetEnvironmentVariable("PFCF_DOUBLE_" + name);
            return string.IsNullOrEmpty(value) ? fallback : value;
        }

        static int Number(string name, int fallback)
        {
            return int.Parse(Read(name, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);
        }

        static bool Flag(string name)
        {
            string value = Read(name, "false").ToLowerInvariant();
            return value == "1" || value == "true" || value == "yes";
        }

        static List<string> List(string value)
        {
            return value.Split(',').Select(s => s.Trim()).Where(s => s != "").ToList();
        }
    }

    /// What a test may do to the double while it runs.
    public sealed class DoubleControl
    {
        readonly Core core;
        internal DoubleControl(Core core)
        {
            this.core = core;
            core.TicksPerSecond = core.Config.TicksPerSecond;
        }

        public bool RejectOrders { get { return core.Faults.RejectOrders; } set { core.Faults.RejectOrders = value; } }
        public int ReplyDelayMs { get { return core.Faults.ReplyDelayMs; } set { core.Faults.ReplyDelayMs = value; } }
        public bool DuplicateMatches { get { return core.Faults.DuplicateMatches; } set { core.Faults.DuplicateMatches = value; } }
        public bool OutOfOrder { get { return core.Faults.OutOfOrder; } set { core.Faults.OutOfOrder = value; } }
        public bool FailLogin { get { return core.Faults.FailLogin; } set { core.Faults.FailLogin = value; } }
        /// Orders wait outside the book (unlisted, unreported) until this is switched off.
        public bool HoldOrders { get { return core.Faults.HoldOrders; } set { core.Faults.HoldOrders = value; } }
        /// Every order is booked twice under its NOTE.
        public bool DuplicateOrders { get { return core.Faults.DuplicateOrders; } set { core.Faults.DuplicateOrders = value; } }
        /// Each order is acknowledged a random 0..AckDelayMs ms after it was taken (0: at once).
        public int AckDelayMs { get { return core.Faults.AckDelayMs; } set { core.Faults.AckDelayMs = value; } }
        /// Order calls taken so far (sent to the broker, booked or held).
        public int OrdersTaken { get { return core.OrdersTaken; } }
        public double TicksPerSecond { get { return core.TicksPerSecond; } set { core.TicksPerSecond = value; } }

        /// Event handlers that threw back into the DLL (a correct adapter keeps this at 0).
        public int HandlerErrors { get { return core.HandlerErrors; } }
        /// OnTickDataTrade events raised so far.
        public long Delivered { get { return core.Delivered; } }
        /// Burst ticks not raised yet.
        public int BurstLeft { get { return core.BurstLeft; } }

        /// Raise `count` more ticks of the registered symbols as fast as possible.
        public void Burst(int count) { core.Burst(count); }
        /// Drop the quote and trade connections (and their subscriptions); reconnect after `ms`.
        public void Disconnect(int ms) { core.Disconnect(ms); }
        /// Raise one OnTickDataTrade with arbitrary text, e.g. a malformed price.
        public void InjectTick(string symbol, string price) { core.InjectTick(symbol, price); }
        /// Raise PFCErrorData.
        public void InjectError(string message) { core.InjectError(message); }
    }
}
