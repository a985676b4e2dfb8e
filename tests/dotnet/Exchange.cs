// The double's back office: order book, matching, positions and the state file they live in.
//
// Matching follows the gateway's simulated exchange (services/gateway/.../matching.py) so one
// contract suite fits both: market orders fill at the last price, a limit order the last price
// already reaches fills there, otherwise IOC/FOK is cancelled and ROD rests until a trade
// reaches its limit. Every order fills completely at one price.
//
// The state file is append-only text, one record per line, flushed before the call that made
// it returns, so a killed process loses nothing it answered:
//   O <orderNo> <note> <account> <symbol> <buy|sell> <qty> <market|limit> <limit> <rod|ioc|fok>
//     <accepted|filled|cancelled|rejected> <filled qty> <reason> <seq>   (latest line wins)
//   F <orderNo> <match seq> <price> <qty>
//   P <symbol> <last price>
//   R <seq> <note>   an order call the broker took (booked at once, or later when held)
// Fields are tab-separated. tests/support/dotnet.py reads the O lines as the broker's truth.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;

namespace PFCF
{
    sealed class BookOrder
    {
        public string OrderNo, Note, Account, Symbol, Side, Type, Tif, Status, Reason, Seq;
        public int Quantity, Filled, FillPrice;
        public int? Limit;

        public bool IsResting { get { return Status == "accepted"; } }
        public BookOrder Copy() { return (BookOrder)MemberwiseClone(); }
    }

    sealed class Fill
    {
        public string OrderNo;
        public int Seq, Price, Quantity;
    }

    sealed class Holding
    {
        public int Net, BoughtToday, SoldToday;
        public decimal Average;
    }

    public sealed class PositionView
    {
        public string Symbol;
        public int Long, Short, BoughtToday, SoldToday, LastPrice;
        public decimal Average;
    }

    /// One report the exchange sends about an order: a reply (status) or a match (fill).
    sealed class Report
    {
        public ReplyData Reply;
        public MatchData Match;
    }

    sealed class Exchange
    {
        readonly object gate = new object();
        readonly DoubleConfig config;
        readonly Dictionary<string, BookOrder> orders = new Dictionary<string, BookOrder>();
        readonly List<string> orderNumbers = new List<string>();
        readonly List<Fill> fills = new List<Fill>();
        readonly Dictionary<string, Holding> holdings = new Dictionary<string, Holding>();
        readonly Dictionary<string, int> prices = new Dictionary<string, int>();
        // Booked, not acknowledged yet (ACK_DELAY_MS): unlisted, unreported and not matched.
        readonly HashSet<string> unacknowledged = new HashSet<string>();
        readonly Random random;
        StreamWriter file;
        int lastOrder;
        long totalQuantity;
        DateTime pricesSavedAt = DateTime.MinValue;

        public Exchange(DoubleConfig config)
        {
            this.config = config;
            random = new Random(config.Seed);
        }

        /// Loads the state file (once per login: a logout closes it, as a restart would).
        public void Open()
        {
            lock (gate)
            {
                if (file != null) return;
                orders.Clear(); orderNumbers.Clear(); fills.Clear(); holdings.Clear(); prices.Clear();
                unacknowledged.Clear();
                lastOrder = 0;
                foreach (var symbol in config.Symbols) prices[symbol] = config.StartPrice;
                string folder = Path.GetDirectoryName(Path.GetFullPath(config.StatePath));
                Directory.CreateDirectory(folder);
                if (File.Exists(config.StatePath)) Load(File.ReadAllLines(config.StatePath));
                file = new StreamWriter(new FileStream(config.StatePath, FileMode.Append, FileAccess.Write, FileShare.ReadWrite));
                file.AutoFlush = true;
            }
        }

        public void Close()
        {
            lock (gate)
            {
                if (file == null) return;
                SavePrices();
                file.Dispose();
                file = null;
            }
        }

        public int LastPrice(string symbol)
        {
            lock (gate) { int price; return prices.TryGetValue(symbol, out price) ? price : 0; }
        }

        /// Records that an order call arrived: the broker's own count of what it was sent.
        public void Taken(string seq, string note)
        {
            lock (gate) Write("R", seq, note ?? "");
        }

        /// Books an order; with `acknowledgeLater` it stays unlisted and unmatched until
        /// `Acknowledge` (its reports are the caller's to hold back until then).
        public List<Report> Place(DTrade.OrderObject request, string seq, bool rejectAll, bool acknowledgeLater)
        {
            lock (gate)
            {
                var order = new BookOrder
                {
                    OrderNo = "D" + (++lastOrder).ToString("0000000", CultureInfo.InvariantCulture),
                    Note = request.NOTE ?? "", Account = request.ACTNO ?? "",
                    Symbol = request.PRODUCTID ?? "", Side = request.BS == DTrade.SideEnum.Buy ? "buy" : "sell",
                    Quantity = request.ORDERQTY,
                    Type = request.ORDERTYPE == DTrade.OrderTypeEnum.Limit ? "limit" : "market",
                    Tif = request.TIMEINFORCE.ToString().ToLowerInvariant(),
                    Status = "accepted", Reason = "", Seq = seq,
                };
                if (order.Type == "limit" && request.PRICE == decimal.Truncate(request.PRICE) && request.PRICE >= 1)
                    order.Limit = (int)request.PRICE;
                if (acknowledgeLater) unacknowledged.Add(order.OrderNo);
                var reports = new List<Report>();
                string refusal = rejectAll ? "injected rejection" : Refusal(order, request.PRICE);
                if (refusal != null)
                {
                    order.Status = "rejected";
                    order.Reason = refusal;
                    Save(order);
                    reports.Add(Reply(order));
                    return reports;
                }
                reports.Add(Reply(order));  // accepted: the acknowledgement comes first
                int last = prices[order.Symbol];
                bool reaches = order.Limit == null || Reaches(order.Side, order.Limit.Value, last);
                if (reaches)
                    reports.AddRange(FillAt(order, last));
                else if (order.Tif != "rod")
                {
                    order.Status = "cancelled";
                    order.Reason = order.Tif + " limit " + order.Limit + " not reachable";
                    Save(order);
                    reports.Add(Reply(order));
                }
                else
                    Save(order);
                return reports;
            }
        }

        public void Acknowledge(string orderNo)
        {
            lock (gate) unacknowledged.Remove(orderNo);
        }

        /// Cancels an open order; `refusal` says why not (unknown or finished order).
        public List<Report> Cancel(string account, string orderNo, out string refusal)
        {
            lock (gate)
            {
                BookOrder order;
                refusal = null;
                if (!orders.TryGetValue(orderNo ?? "", out order) || order.Account != account)
                    refusal = "no order " + orderNo + " in account " + account;
                else if (!order.IsResting)
                    refusal = "order " + orderNo + " is " + order.Status;
                if (refusal != null) return new List<Report>();
                order = order.Copy();
                order.Status = "cancelled";
                order.Reason = "cancelled by request";
                Save(order);
                return new List<Report> { Reply(order) };
            }
        }

        /// The market trades `symbol` one random step; resting orders it reaches fill.
        public List<Report> Trade(string symbol, out int price, out int quantity, out long total)
        {
            lock (gate)
            {
                var reports = new List<Report>();
                price = quantity = 0;
                total = totalQuantity;
                if (file == null) return reports;
                price = Math.Max(1, prices[symbol] + random.Next(-3, 4));
                quantity = 1 + random.Next(0, 5);
                total = totalQuantity += quantity;
                prices[symbol] = price;
                foreach (var number in orderNumbers)
                {
                    var order = orders[number];
                    if (order.IsResting && order.Symbol == symbol && !unacknowledged.Contains(number)
                        && Reaches(order.Side, order.Limit.Value, price))
                        reports.AddRange(FillAt(order.Copy(), order.Limit.Value));
                }
                if ((DateTime.UtcNow - pricesSavedAt).TotalSeconds >= 1) SavePrices();
                return reports;
            }
        }

        public List<ReplyData> Replies(string account)
        {
            lock (gate)
            {
                return orderNumbers.Where(n => !unacknowledged.Contains(n)).Select(n => orders[n])
                    .Where(o => o.Account == account).Select(Reply)
                    .Select(r => r.Reply).ToList();
            }
        }

        public List<MatchData> Matches(string account)
        {
            lock (gate)
            {
                return fills.Where(f => orders[f.OrderNo].Account == account && !unacknowledged.Contains(f.OrderNo))
                    .Select(f => Match(orders[f.OrderNo], f)).ToList();
            }
        }

        public List<PositionView> Positions(string account, string product)
        {
            lock (gate)
            {
                var views = new List<PositionView>();
                foreach (var pair in holdings.OrderBy(p => p.Key, StringComparer.Ordinal))
                {
                    string[] key = pair.Key.Split('|');
                    if (key[0] != account || (product != "" && key[1] != product)) continue;
                    var h = pair.Value;
                    views.Add(new PositionView
                    {
                        Symbol = key[1], Long = Math.Max(h.Net, 0), Short = Math.Max(-h.Net, 0),
                        BoughtToday = h.BoughtToday, SoldToday = h.SoldToday,
                        LastPrice = prices.ContainsKey(key[1]) ? prices[key[1]] : 0, Average = h.Average,
                    });
                }
                return views;
            }
        }

        string Refusal(BookOrder order, decimal price)
        {
            if (!config.Symbols.Contains(order.Symbol)) return "unknown symbol '" + order.Symbol + "'";
            if (order.Quantity < 1) return "quantity " + order.Quantity + " is below the minimum of 1";
            if (order.Quantity > config.MaxQuantity)
                return "quantity " + order.Quantity + " exceeds the maximum of " + config.MaxQuantity + " per order";
            if (order.Type == "limit" && order.Limit == null)
                return "limit price " + Text.Of(price) + " is not a whole number of points of at least 1";
            return null;
        }

        static bool Reaches(string side, int limit, int price)
        {
            return side == "buy" ? price <= limit : price >= limit;
        }

        List<Report> FillAt(BookOrder order, int price)
        {
            var fill = new Fill { OrderNo = order.OrderNo, Seq = 1, Price = price, Quantity = order.Quantity };
            order.Status = "filled";
            order.Filled = order.Quantity;
            order.FillPrice = price;
            Save(order);
            Record(fill);
            return new List<Report> { new Report { Match = Match(order, fill) }, Reply(order) };
        }

        void Save(BookOrder order)
        {
            if (!orders.ContainsKey(order.OrderNo)) orderNumbers.Add(order.OrderNo);
            orders[order.OrderNo] = order;
            Write("O", order.OrderNo, order.Note, order.Account, order.Symbol, order.Side,
                Text.Of(order.Quantity), order.Type, order.Limit == null ? "" : Text.Of(order.Limit.Value),
                order.Tif, order.Status, Text.Of(order.Filled), order.Reason, order.Seq);
        }

        void Record(Fill fill)
        {
            fills.Add(fill);
            Apply(fill);
            Write("F", fill.OrderNo, Text.Of(fill.Seq), Text.Of(fill.Price), Text.Of(fill.Quantity));
        }

        /// The position after a fill, with the simulated exchange's averaging rules.
        void Apply(Fill fill)
        {
            var order = orders[fill.OrderNo];
            string key = order.Account + "|" + order.Symbol;
            Holding h;
            if (!holdings.TryGetValue(key, out h)) holdings[key] = h = new Holding();
            int sign = order.Side == "buy" ? 1 : -1, held = h.Net, net = held + sign * fill.Quantity;
            if (sign > 0) h.BoughtToday += fill.Quantity; else h.SoldToday += fill.Quantity;
            if (net == 0) h.Average = 0;
            else if (held == 0 || (held > 0) != (net > 0)) h.Average = fill.Price;
            else if (Math.Abs(net) > Math.Abs(held))
                h.Average = Math.Round((h.Average * Math.Abs(held) + (decimal)fill.Price * fill.Quantity) / Math.Abs(net), 4);
            h.Net = net;
        }

        void SavePrices()
        {
            foreach (var pair in prices) Write("P", pair.Key, Text.Of(pair.Value));
            pricesSavedAt = DateTime.UtcNow;
        }

        void Write(params string[] fields)
        {
            if (file == null) return;
            file.WriteLine(string.Join("\t", fields.Select(f => (f ?? "").Replace('\t', ' ').Replace('\n', ' '))));
        }

        void Load(string[] lines)
        {
            foreach (var line in lines)
            {
                string[] f = line.Split('\t');
                if (f[0] == "O" && f.Length == 14)
                {
                    var order = new BookOrder
                    {
                        OrderNo = f[1], Note = f[2], Account = f[3], Symbol = f[4], Side = f[5],
                        Quantity = int.Parse(f[6], CultureInfo.InvariantCulture), Type = f[7],
                        Limit = f[8] == "" ? (int?)null : int.Parse(f[8], CultureInfo.InvariantCulture),
                        Tif = f[9], Status = f[10], Filled = int.Parse(f[11], CultureInfo.InvariantCulture),
                        Reason = f[12], Seq = f[13],
                    };
                    if (!orders.ContainsKey(order.OrderNo)) orderNumbers.Add(order.OrderNo);
                    orders[order.OrderNo] = order;
                    lastOrder = Math.Max(lastOrder, int.Parse(order.OrderNo.Substring(1), CultureInfo.InvariantCulture));
                }
                else if (f[0] == "F" && f.Length == 5 && orders.ContainsKey(f[1]))
                {
                    var fill = new Fill
                    {
                        OrderNo = f[1], Seq = int.Parse(f[2], CultureInfo.InvariantCulture),
                        Price = int.Parse(f[3], CultureInfo.InvariantCulture),
                        Quantity = int.Parse(f[4], CultureInfo.InvariantCulture),
                    };
                    fills.Add(fill);
                    Apply(fill);
                    orders[fill.OrderNo].FillPrice = fill.Price;
                }
                else if (f[0] == "P" && f.Length == 3 && prices.ContainsKey(f[1]))
                    prices[f[1]] = int.Parse(f[2], CultureInfo.InvariantCulture);
            }
        }

        static readonly Dictionary<string, string> Statuses = new Dictionary<string, string>
        {
            { "accepted", "委託成功" }, { "filled", "完全成交" }, { "cancelled", "刪單成功" }, { "rejected", "委託失敗" },
        };

        static Report Reply(BookOrder order)
        {
            string status = Statuses[order.Status] + (order.Reason == "" ? "" : ":" + order.Reason);
            return new Report
            {
                Reply = new ReplyData
                {
                    orderNo = order.OrderNo, investorAcno = order.Account,
                    orderTime = DateTime.Now.ToString("HHmmssfff", CultureInfo.InvariantCulture),
                    BS = order.Side == "buy" ? "B" : "S", productId = order.Symbol,
                    matchQty = Text.Of(order.Filled), NoMatchQty = Text.Of(order.Quantity - order.Filled),
                    DelQty = order.Status == "cancelled" ? Text.Of(order.Quantity - order.Filled) : "0",
                    orderStatus = status, Statuscode = order.Status == "rejected" ? "E400" : "0",
                    orderPrice = order.Limit == null ? "0" : Text.Of(order.Limit.Value),
                    orderQty = Text.Of(order.Quantity), OpenOffSetFlag = "AUTO",
                    OrderCondition = order.Tif.ToUpperInvariant(), dtrade = "N", note = order.Note,
                    seq = order.Seq, ORDERTYPE = order.Type == "limit" ? "L" : "M",
                    LastMatchPrice = order.Filled > 0 ? Text.Of(order.FillPrice) : "0",
                    LastMatchQty = Text.Of(order.Filled), LastMatchseq = order.Filled > 0 ? "1" : "0",
                },
            };
        }

        static MatchData Match(BookOrder order, Fill fill)
        {
            return new MatchData
            {
                investorAcno = order.Account, orderNo = order.OrderNo,
                matchTime = DateTime.Now.ToString("HHmmssfff", CultureInfo.InvariantCulture),
                BS = order.Side == "buy" ? "B" : "S", productId = order.Symbol,
                MatchPrice = Text.Of(fill.Price), MatchQty = Text.Of(fill.Quantity),
                matchseq = Text.Of(fill.Seq), note = order.Note,
            };
        }
    }
}
