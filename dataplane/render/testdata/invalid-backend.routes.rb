# nghttpx-gateway route table, read by router.rb and restore.rb. Generated; do not edit.
{
  :ports => {
    80 => {
      :tls => false,
      :listeners => [
        {
          :vhosts => [
            {
              :rules => [
                {
                  :name => "i/0",
                  :path => [:prefix, "/invalid"],
                  :backends => [{:weight => 1, :status => 500}],
                },
                {:name => "i/1", :path => [:prefix, ""], :status => 500},
              ],
            },
          ],
        },
      ],
    },
  },
  :buckets => 0,
  :shards => "",
  :resp => [],
}
